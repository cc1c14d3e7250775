"""Each caller's own access tokens on /api/v1/tokens/: the secret is in the creation's
answer only and works as `docker login` uses it; revoking stops it; another user's tokens
do not exist for the caller; and a token used here makes nothing broader than itself."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from registry_api.auth.credentials import access_token_create
from registry_api.models import AccessToken, AuditEvent

from .conftest import docker_login

TOKENS = "/api/v1/tokens/"


def _bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def _made(api, role: str = "puller", headers: dict | None = None, **body):
    response = api("POST", TOKENS, role, json={"name": "ci", **body}, headers=headers)
    assert response.status_code == 201, response.content[:300]
    return response.json()


def test_the_secret_is_shown_once_and_works_for_docker_login(api, world, client):
    made = _made(api, read_only=True)
    secret = made["secret"]
    assert secret.startswith("drm_") and made["prefix"] == secret[:len(made["prefix"])]
    assert made["user"] == "puller" and made["read_only"] is True and made["namespace"] is None
    listed = api("GET", TOKENS, "puller")
    assert secret not in listed.content.decode()
    assert {t["name"] for t in listed.json()["results"]} == {"api", "ci"}
    assert all("secret" not in t for t in listed.json()["results"])
    assert secret not in api("DELETE", f"{TOKENS}{made['id']}/", "puller").content.decode()
    # Not stored either: only its hash is.
    assert not AccessToken.objects.filter(key_hash=secret).exists()


def test_docker_login_with_the_new_token_pulls_until_revoked(api, world, client):
    made = _made(api)
    login = docker_login(client, "puller", made["secret"])
    assert login.status_code == 200
    bearer = login.json()["token"]
    assert client.get("/v2/team/app/tags/list", headers=_bearer(bearer)).json()["tags"] == ["v1", "v2"]
    # The management API takes it too, alone or as Basic.
    assert client.get("/api/v1/repositories/", headers=_bearer(made["secret"])).status_code == 200
    revoked = api("DELETE", f"{TOKENS}{made['id']}/", "puller")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert docker_login(client, "puller", made["secret"]).status_code == 401
    assert client.get("/v2/team/app/tags/list", headers=_bearer(bearer)).status_code == 401
    assert client.get("/api/v1/repositories/", headers=_bearer(made["secret"])).status_code == 401
    # The token that made it, a different one, still works.
    assert api("GET", TOKENS, "puller").status_code == 200


def test_another_users_token_does_not_exist_for_the_caller(api, world):
    theirs, _ = access_token_create(user=world.users["other"], name="theirs")
    for role in ("puller", "ns_admin", "staff"):  # staff revoke others' tokens in the admin
        refused = api("DELETE", f"{TOKENS}{theirs.pk}/", role)
        assert refused.status_code == 404 and refused.json()["code"] == "not_found"
        assert "theirs" not in refused.content.decode()
        assert theirs.pk not in [t["id"] for t in api("GET", TOKENS, role).json()["results"]]
    assert not AccessToken.objects.get(pk=theirs.pk).revoked
    assert api("DELETE", f"{TOKENS}999999/", "puller").status_code == 404


def test_staff_list_anyones_tokens_by_user(api, world):
    access_token_create(user=world.users["other"], name="theirs")
    theirs = api("GET", f"{TOKENS}?user=other").json()["results"]
    assert sorted(t["name"] for t in theirs) == ["api", "theirs"] and {t["user"] for t in theirs} == {"other"}
    everyone = api("GET", f"{TOKENS}?user=*").json()
    assert everyone["count"] == AccessToken.objects.count()
    assert [t["user"] for t in everyone["results"]] == sorted(t["user"] for t in everyone["results"])
    unknown = api("GET", f"{TOKENS}?user=nobody")
    assert unknown.status_code == 400 and "user" in unknown.json()["fields"]


def test_others_may_not_list_another_users_tokens(api, world):
    for query in ("?user=other", "?user=*", "?user=nobody"):
        refused = api("GET", f"{TOKENS}{query}", "ns_admin")
        assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
        assert "theirs" not in refused.content.decode()
    # Naming oneself is the plain list.
    assert [t["user"] for t in api("GET", f"{TOKENS}?user=ns_admin", "ns_admin").json()["results"]] == ["ns_admin"]


def test_a_read_only_token_creates_no_tokens(api, world):
    _, secret = access_token_create(user=world.users["staff"], name="ro", read_only=True)
    refused = api("POST", TOKENS, "anonymous", json={"name": "more"}, headers=_bearer(secret))
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert not AccessToken.objects.filter(name="more").exists()


@pytest.fixture
def limited(world) -> dict:
    """The superuser's token limited to namespace `team`: what it makes must not reach the
    rest, as the superuser's other tokens do."""
    from registry_api.models import Namespace

    _, secret = access_token_create(user=world.users["staff"], name="team-only",
                                    namespace=Namespace.objects.get(name="team"))
    return _bearer(secret)


def test_a_limited_token_makes_only_tokens_limited_to_its_namespace(api, world, limited, client):
    unasked = _made(api, "anonymous", limited)
    assert unasked["namespace"] == "team"  # no limit asked for: its own
    assert _made(api, "anonymous", limited, name="same", namespace="team")["namespace"] == "team"
    wider = api("POST", TOKENS, "anonymous", json={"name": "wide", "namespace": "other"}, headers=limited)
    assert wider.status_code == 403 and wider.json()["code"] == "permission_denied"
    assert "team" in wider.json()["message"]
    assert not AccessToken.objects.filter(name="wide").exists()
    # What it made reaches team only, as its maker does.
    inside = docker_login(client, "staff", unasked["secret"]).json()["token"]
    assert client.get("/v2/team/app/tags/list", headers=_bearer(inside)).status_code == 200
    outside = docker_login(client, "staff", unasked["secret"], "repository:other/box:pull").json()["token"]
    assert client.get("/v2/other/box/tags/list", headers=_bearer(outside)).status_code in (401, 403)


def test_a_limited_token_sees_and_revokes_only_tokens_limited_like_it(api, world, limited):
    unlimited = AccessToken.objects.get(user=world.users["staff"], name="api")
    seen = [t["name"] for t in api("GET", TOKENS, "anonymous", headers=limited).json()["results"]]
    assert seen == ["team-only"]
    assert api("DELETE", f"{TOKENS}{unlimited.pk}/", "anonymous", headers=limited).status_code == 404
    assert not AccessToken.objects.get(pk=unlimited.pk).revoked


def test_a_token_does_not_make_one_that_outlives_it(api, world):
    soon = timezone.now() + timedelta(hours=1)
    _, secret = access_token_create(user=world.users["puller"], name="brief", expires_at=soon)
    inherited = _made(api, "anonymous", _bearer(secret))
    assert abs((AccessToken.objects.get(pk=inherited["id"]).expires_at - soon).total_seconds()) < 1
    later = (soon + timedelta(days=1)).isoformat()
    refused = api("POST", TOKENS, "anonymous", json={"name": "long", "expires_at": later}, headers=_bearer(secret))
    assert refused.status_code == 403 and "outlives" in refused.json()["message"]


def _invalid(response, field: str | None = None) -> dict:
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "invalid" and body["message"] and "Traceback" not in response.content.decode()
    if field:
        assert field in body["fields"]
    return body


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "scopes": ["push"]}, "scopes"),
    ({"name": "x", "secret": "drm_mine"}, "secret"),
    ({"name": 12}, "name"),
    ({"name": "x", "read_only": "very"}, "read_only"),
    ({"name": "x", "expires_at": "tomorrow"}, "expires_at"),
    ({"name": "x", "namespace": ["team"]}, "namespace"),
    ({"name": "x" * 500}, "name"),
    ({}, "name"),
])
def test_bad_fields_are_named(api, world, body, field):
    _invalid(api("POST", TOKENS, "puller", json=body), field)
    assert not AccessToken.objects.filter(name="x").exists()


def test_an_expiry_in_the_past_or_a_namespace_that_does_not_exist_is_refused(api, world):
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert "past" in _invalid(api("POST", TOKENS, "puller", json={"name": "x", "expires_at": past}))["message"]
    assert "nowhere" in _invalid(api("POST", TOKENS, "puller", json={"name": "x", "namespace": "nowhere"}))["message"]
    _invalid(api("POST", TOKENS, "puller", json={"name": "   "}))
    assert not AccessToken.objects.filter(name="x").exists()


def test_every_write_is_audited_under_the_callers_name(api, world):
    AuditEvent.objects.all().delete()
    made = _made(api, name="audited")
    api("DELETE", f"{TOKENS}{made['id']}/", "puller")
    changes = [(e.actor, e.detail["change"]) for e in AuditEvent.objects.filter(target__contains=": audited")
               .order_by("id")]
    assert changes == [("puller", "created"), ("puller", "changed")]
    assert made["secret"] not in json.dumps(list(AuditEvent.objects.values()), default=str)
