"""Bad input gets a 4xx with a clear JSON error, never a 500 or another namespace's data:
unknown fields, wrong types, names outside the repository grammar, huge pages, malformed
JSON, and ids that belong to a namespace the caller does not administer."""
from __future__ import annotations

import pytest

from registry_api.models import Namespace, RetentionPolicy


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["code"] == code and body["message"]
    assert "Traceback" not in response.content.decode() and "/work/" not in response.content.decode()
    return body


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/namespaces/", {"name": "x", "colour": "red"}, "colour"),
    ("/api/v1/namespaces/", {"name": "x", "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ("/api/v1/robots/", {"name": "bot", "sudo": True}, "sudo"),
    ("/api/v1/retention-policies/", {"namespace": "team", "keep_last": 1, "keep": 2}, "keep"),
])
def test_unknown_fields_are_refused(api, world, path, body, field):
    assert field in _error(api("POST", path, json=body), 400, "invalid")["fields"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/namespaces/", {"name": "x", "public": "very"}, "public"),
    ("/api/v1/namespaces/", {"name": "x", "quota_bytes": "lots"}, "quota_bytes"),
    ("/api/v1/namespaces/", {"name": "x", "quota_bytes": -1}, "quota_bytes"),
    ("/api/v1/namespaces/", {"name": 12}, "name"),
    ("/api/v1/retention-policies/", {"namespace": "team", "keep_last": "three"}, "keep_last"),
    ("/api/v1/retention-policies/", {"namespace": "team", "tag_pattern": "(", "keep_last": 1}, "tag_pattern"),
    ("/api/v1/robots/", {"name": "bot", "namespace": "team", "level": "god"}, "level"),
    ("/api/v1/robots/", {"name": "bot", "expires_at": "tomorrow"}, "expires_at"),
])
def test_wrong_types_name_the_field(api, world, path, body, field):
    assert field in _error(api("POST", path, json=body), 400, "invalid")["fields"]


@pytest.mark.parametrize("name", ["Team", "a/b", "-x", "x-", "a..b", "ü", "a" * 300])
def test_namespace_names_follow_the_repository_grammar(api, world, name):
    assert "name" in _error(api("POST", "/api/v1/namespaces/", json={"name": name}), 400, "invalid")["fields"]


def test_a_retention_policy_without_rule_or_place_is_refused(api, world):
    body = _error(api("POST", "/api/v1/retention-policies/", json={"namespace": "team"}), 400, "invalid")
    assert "keep" in body["message"].lower()
    _error(api("POST", "/api/v1/retention-policies/", json={"keep_last": 1}), 400, "invalid")
    # A namespace that does not exist is as unseen as one the caller does not administer.
    _error(api("POST", "/api/v1/retention-policies/", json={"namespace": "nowhere", "keep_last": 1}), 404, "not_found")
    _error(api("POST", "/api/v1/retention-policies/", "ns_admin", json={"namespace": "other", "keep_last": 1}), 404,
           "not_found")


@pytest.mark.parametrize("path", [
    "/api/v1/repositories/Team/App/",
    "/api/v1/repositories/team/app/-/tags/.bad/",
    "/api/v1/repositories/team/app/-/manifests/sha256:xyz/",
    "/api/v1/repositories/team/app/-/manifests/notadigest/",
])
def test_names_tags_and_digests_outside_the_grammar(api, world, path):
    response = api("GET", path)
    assert response.status_code in (400, 404)
    _error(response, response.status_code, "invalid" if response.status_code == 400 else "not_found")


@pytest.mark.parametrize("query", ["page_size=1000000000", "page_size=0", "page_size=-5", "page=0", "page=x",
                                   "sort=colour", "since=yesterday", "action=hack"])
def test_bad_query_parameters(api, world, query):
    path = "/api/v1/audit-events/" if query.startswith(("since", "action")) else "/api/v1/repositories/"
    _error(api("GET", f"{path}?{query}"), 400, "invalid")


def test_malformed_json_and_wrong_media_type(api, world, client):
    headers = world.headers("staff")
    _error(client.post("/api/v1/namespaces/", "{nope", content_type="application/json", headers=headers), 400,
           "parse_error")
    _error(client.post("/api/v1/namespaces/", "name=x", content_type="application/x-www-form-urlencoded",
                       headers=headers), 415, "unsupported_media_type")
    _error(api("POST", "/api/v1/namespaces/", json=["a", "list"]), 400, "invalid")


def test_an_id_from_another_namespace_is_404_and_says_nothing_of_it(api, world):
    other = RetentionPolicy.objects.create(namespace=Namespace.objects.get(name="other"), tag_pattern="secret-.*",
                                           keep_last=1)
    for method, suffix in (("GET", ""), ("GET", "dry-run/"), ("DELETE", "")):
        body = _error(api(method, f"/api/v1/retention-policies/{other.pk}/{suffix}", "ns_admin"), 404, "not_found")
        assert "secret" not in str(body) and "other" not in str(body)
    patched = api("PATCH", f"/api/v1/retention-policies/{other.pk}/", "ns_admin", json={"keep_last": 9},
                  headers={"If-Match": "*"})
    _error(patched, 404, "not_found")
    assert RetentionPolicy.objects.get(pk=other.pk).keep_last == 1


def test_a_policy_cannot_move_to_another_namespace(api, world):
    mine = RetentionPolicy.objects.create(namespace=Namespace.objects.get(name="team"), keep_last=1)
    response = api("PATCH", f"/api/v1/retention-policies/{mine.pk}/", "ns_admin", json={"namespace": "other"},
                   headers={"If-Match": "*"})
    _error(response, 400, "invalid")
    assert RetentionPolicy.objects.get(pk=mine.pk).namespace.name == "team"


def test_duplicates_are_conflicts(api, world):
    _error(api("POST", "/api/v1/namespaces/", json={"name": "team"}), 409, "conflict")
    _error(api("POST", "/api/v1/robots/", json={"name": "puller"}), 409, "conflict")


def test_unknown_endpoints_and_methods(api, world):
    _error(api("GET", "/api/v1/nothing/here/"), 404, "not_found")
    _error(api("PUT", "/api/v1/repositories/team/app/"), 405, "method_not_allowed")


@pytest.mark.parametrize("value", ["999999", "no-such", "UPPER", "a%2Fb", "..", "sha256:" + "0" * 64])
def test_no_route_answers_500_whatever_it_is_sent(api, world, client, value):
    """Every path of the schema, every method it has, with odd path values and odd bodies."""
    document = client.get("/api/v1/schema/?format=json").json()
    for template, operations in document["paths"].items():
        path = template
        for name in ("name", "tag", "digest", "id", "token_id", "grant_id", "delivery_id"):
            path = path.replace("{" + name + "}", value)
        for method in operations:
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for body in ({"bogus": 1}, ["not", "an", "object"], {"name": None, "level": 7}):
                response = api(method.upper(), path, json=body if method != "get" else None,
                               headers={"If-Match": "*"})
                assert response.status_code < 500, (method, path, body, response.status_code)
                if response.status_code >= 400 and not response.streaming:
                    assert response.json()["code"], (method, path)


def test_with_access_control_off_anyone_may_do_everything(client, world, settings):
    """A development box (REGISTRY_AUTH_ENABLED=false), as on /v2/ and the portal."""
    settings.REGISTRY_AUTH_ENABLED = False
    assert client.get("/api/v1/repositories/").json()["count"] == 3
    made = client.post("/api/v1/namespaces/", {"name": "open"}, content_type="application/json")
    assert made.status_code == 201
