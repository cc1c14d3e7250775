"""What every resource does alike: authentication (Bearer token, Basic with a token or a
password through the throttle, the portal session with CSRF), pages with Link headers,
ETag/If-Match on updates, and an audit event for every write."""
from __future__ import annotations

import base64
import re

from django.test import Client

from registry_api.models import AccessToken, AuditEvent, Namespace


def basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_basic_with_a_password_or_a_token(client, world):
    assert client.get("/api/v1/namespaces/", headers=basic("ns_admin", "ns_admin-pw")).status_code == 200
    assert client.get("/api/v1/namespaces/", headers=basic("ns_admin", world.tokens["ns_admin"])).status_code == 200
    # Another user's token is no credential for this one.
    refused = client.get("/api/v1/namespaces/", headers=basic("puller", world.tokens["ns_admin"]))
    assert refused.status_code == 401 and refused.json()["code"] == "authentication_failed"


def test_a_wrong_credential_is_401_never_anonymous(client, world):
    for headers in (basic("staff", "wrong"), {"Authorization": "Bearer drm_nothing"}, {"Authorization": "Basic %%%"}):
        response = client.get("/api/v1/health/", headers=headers)
        assert response.status_code == 200  # health asks for no credentials at all
        response = client.get("/api/v1/repositories/", headers=headers)
        assert response.status_code == 401 and "Bearer" in response.headers["WWW-Authenticate"]


def test_a_revoked_token_stops_at_once(client, world):
    headers = world.headers("staff")
    assert client.get("/api/v1/robots/", headers=headers).status_code == 200
    AccessToken.objects.filter(user=world.users["staff"]).update(revoked=True)
    assert client.get("/api/v1/robots/", headers=headers).status_code == 401


def test_failed_passwords_fill_the_one_throttle(client, world, settings):
    settings.REGISTRY_LOGIN_MAX_FAILURES = 3
    for n in range(3):  # different guesses: a repeated one counts once (throttle.py)
        assert client.get("/api/v1/namespaces/", headers=basic("staff", f"wrong-{n}")).status_code == 401
    refused = client.get("/api/v1/namespaces/", headers=basic("staff", "staff-pw"))
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert int(refused.headers["Retry-After"]) > 0
    # The same counters as the portal's sign-in form: it is refused there too.
    assert Client().post("/login/", {"username": "staff", "password": "staff-pw"}).status_code == 429


def test_the_portal_session_needs_csrf_on_writes(world):
    browser = Client(enforce_csrf_checks=True)
    browser.get("/login/")  # the portal's page sets the CSRF cookie, as it does for its own scripts
    browser.force_login(world.users["staff"])
    assert browser.get("/api/v1/namespaces/").status_code == 200
    refused = browser.post("/api/v1/namespaces/", {"name": "via-portal"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["message"]
    token = browser.cookies["csrftoken"].value
    made = browser.post("/api/v1/namespaces/", {"name": "via-portal"}, content_type="application/json",
                        headers={"X-CSRFToken": token})
    assert made.status_code == 201
    assert AuditEvent.objects.filter(actor="staff", target="Namespace via-portal").exists()


def test_pages_link_to_the_next_in_a_stable_order(api, world):
    for n in range(7):
        Namespace.objects.create(name=f"ns{n}")
    seen, path, pages = [], "/api/v1/namespaces/?page_size=4&sort=name", 0
    while path:
        response = api("GET", path)
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 9
        seen += [n["name"] for n in body["results"]]
        found = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
        path = found.group(1).removeprefix("http://testserver") if found else None
        pages += 1
    assert pages == 3 and seen == sorted(seen) and len(set(seen)) == 9
    last = api("GET", "/api/v1/namespaces/?page_size=4&sort=name&page=3")
    assert 'rel="prev"' in last.headers["Link"] and 'rel="next"' not in last.headers["Link"]


def test_updates_need_the_etag_they_read(api, world):
    read = api("GET", "/api/v1/namespaces/team/")
    etag = read.headers["ETag"]
    missing = api("PATCH", "/api/v1/namespaces/team/", json={"quota_bytes": 1000})
    assert missing.status_code == 428 and missing.json()["code"] == "precondition_required"
    first = api("PATCH", "/api/v1/namespaces/team/", json={"quota_bytes": 1000}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] != etag
    # A second script that read before the first wrote loses nothing silently.
    stale = api("PATCH", "/api/v1/namespaces/team/", json={"quota_bytes": 5}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    assert Namespace.objects.get(name="team").quota_bytes == 1000
    renamed = api("PATCH", "/api/v1/namespaces/team/", json={"name": "squad"},
                  headers={"If-Match": first.headers["ETag"]})
    assert renamed.status_code == 400


def test_every_write_leaves_an_audit_event(api, world):
    def count() -> int:
        return AuditEvent.objects.exclude(action="login").count()

    writes = [
        ("POST", "/api/v1/namespaces/", {"name": "audited"}, None),
        ("POST", "/api/v1/robots/", {"name": "bot", "namespace": "team", "level": "push"}, None),
        ("POST", "/api/v1/retention-policies/", {"namespace": "team", "keep_last": 2}, None),
        ("DELETE", "/api/v1/repositories/team/app/-/tags/v2/", None, None),
        ("DELETE", "/api/v1/repositories/team/tool/", None, None),
    ]
    for method, path, body, headers in writes:
        before = count()
        assert api(method, path, json=body, headers=headers).status_code in (200, 201, 204)
        assert count() > before, path
    actors = set(AuditEvent.objects.exclude(action="login").filter(pk__gt=0).values_list("actor", flat=True))
    assert "staff" in actors
