"""GET and POST /auth/token: credentials, scope intersection, claims, refresh tokens."""
from __future__ import annotations

import base64

import jwt
import pytest

from registry_api.auth import tokens

from .conftest import basic, get_token

pytestmark = pytest.mark.django_db


def claims_of(token: str) -> dict:
    key = tokens.signing_key()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == key.kid
    return jwt.decode(token, key.private_key.public_key(), algorithms=["ES256"], audience="docker-registry-manager")


def test_grants_what_the_user_holds_for_the_scopes_asked(client, users):
    body = get_token(client, "repository:team/app:pull,push", auth=basic("alice", "alice-pw"))
    assert body["token"] == body["access_token"]
    assert body["expires_in"] >= 60 and body["issued_at"].endswith("Z")
    claims = claims_of(body["token"])
    assert claims["sub"] == "alice" and claims["iss"] == "docker-registry-manager"
    assert {"exp", "nbf", "iat", "jti"} <= claims.keys()
    assert claims["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]


def test_grants_the_intersection_when_more_is_asked(client, users):
    body = get_token(
        client, "repository:team/app:pull,push,delete", "repository:other/x:pull", auth=basic("bob", "bob-pw")
    )
    assert claims_of(body["token"])["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull"]}]


def test_several_scopes_in_one_request_as_docker_sends_for_a_mount(client, users):
    body = get_token(client, "repository:team/a:pull", "repository:team/b:pull,push", auth=basic("alice", "alice-pw"))
    access = {a["name"]: a["actions"] for a in claims_of(body["token"])["access"]}
    assert access == {"team/a": ["pull"], "team/b": ["pull", "push"]}


def test_wildcard_action_expands_to_what_is_allowed(client, users):
    body = get_token(client, "repository:other/x:*", auth=basic("carol", "carol-pw"))
    assert claims_of(body["token"])["access"][0]["actions"] == ["delete", "pull", "push"]


def test_anonymous_gets_a_token_with_nothing_private(client, users):
    body = get_token(client, "repository:team/app:pull")
    claims = claims_of(body["token"])
    assert claims["access"] == [] and claims["sub"] == ""
    assert "refresh_token" not in get_token(client, "repository:team/app:pull", offline_token="true")


def test_catalog_scope_is_granted(client, users):
    body = get_token(client, "registry:catalog:*", auth=basic("bob", "bob-pw"))
    assert claims_of(body["token"])["access"] == [{"type": "registry", "name": "catalog", "actions": ["*"]}]


def test_wrong_password_is_401_with_the_envelope(client, users):
    response = client.get("/auth/token", {"scope": "repository:team/app:pull"}, **basic("alice", "nope"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert "nope" not in response.content.decode()


def test_unknown_service_is_unsupported(client, users):
    response = client.get("/auth/token", {"service": "elsewhere"}, **basic("alice", "alice-pw"))
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "UNSUPPORTED"
    posted = client.post("/auth/token", {"grant_type": "password", "service": "elsewhere"})
    assert posted.status_code == 400 and posted.json()["errors"][0]["code"] == "UNSUPPORTED"


@pytest.mark.parametrize("header", [
    "Basic !!!",
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    "basic",
])
def test_malformed_basic_credentials_are_401_not_an_anonymous_token(client, users, header):
    response = client.get("/auth/token", {"scope": "repository:team/app:pull"}, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert "token" not in response.json()


@pytest.mark.parametrize("username,password", [("ali\x00ce", "alice-pw"), ("alice", "alice-pw\x00")])
def test_a_nul_in_credentials_is_a_plain_401_on_every_password_path(client, users, username, password):
    """PostgreSQL text cannot hold NUL: the name must never reach a query (it was a 500 there)."""
    got = client.get("/auth/token", {"scope": "repository:team/app:pull"}, **basic(username, password))
    posted = client.post("/auth/token", {"grant_type": "password", "username": username, "password": password})
    v2 = client.get("/v2/", **basic(username, password))
    assert [got.status_code, posted.status_code, v2.status_code] == [401, 401, 401]
    assert got.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_offline_token_returns_a_refresh_token_usable_with_post(client, users):
    body = get_token(client, "repository:team/app:pull", auth=basic("alice", "alice-pw"), offline_token="true", client_id="docker")
    refresh = body["refresh_token"]
    response = client.post("/auth/token", {
        "grant_type": "refresh_token", "refresh_token": refresh, "service": "docker-registry-manager",
        "client_id": "docker", "scope": "repository:team/app:pull,push repository:other/x:pull",
    })
    assert response.status_code == 200, response.content
    assert claims_of(response.json()["access_token"])["access"] == [
        {"type": "repository", "name": "team/app", "actions": ["pull", "push"]}
    ]
    assert response.json()["scope"] == "repository:team/app:pull,push"


def test_a_refresh_token_is_not_an_access_token_and_vice_versa(client, users):
    body = get_token(client, "repository:team/app:pull", auth=basic("alice", "alice-pw"), offline_token="true")
    response = client.get("/v2/team/app/tags/list", HTTP_AUTHORIZATION=f"Bearer {body['refresh_token']}")
    assert response.status_code == 401
    response = client.post("/auth/token", {"grant_type": "refresh_token", "refresh_token": body["token"]})
    assert response.status_code == 401


def test_post_password_grant(client, users):
    response = client.post("/auth/token", {
        "grant_type": "password", "username": "alice", "password": "alice-pw", "client_id": "containerd",
        "service": "docker-registry-manager", "scope": "repository:team/app:pull", "access_type": "offline",
    })
    assert response.status_code == 200
    body = response.json()
    assert claims_of(body["access_token"])["sub"] == "alice" and body["refresh_token"]


def test_post_with_bad_password_or_grant_type(client, users):
    bad = client.post("/auth/token", {"grant_type": "password", "username": "alice", "password": "x"})
    assert bad.status_code == 401
    unsupported = client.post("/auth/token", {"grant_type": "client_credentials"})
    assert unsupported.status_code == 400


def test_failed_logins_are_throttled_per_user_and_address(client, users, settings):
    settings.REGISTRY_LOGIN_MAX_FAILURES = 3
    for attempt in range(3):
        assert client.get("/auth/token", **basic("alice", f"wrong-{attempt}")).status_code == 401
    response = client.get("/auth/token", **basic("alice", "alice-pw"))
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert 0 < int(response["Retry-After"]) <= settings.REGISTRY_LOGIN_WINDOW
    # Only that address is held back: alice signs in from anywhere else.
    assert client.get("/auth/token", REMOTE_ADDR="10.9.9.9", **basic("alice", "alice-pw")).status_code == 200


def test_failed_logins_are_throttled_per_address(client, users, settings):
    settings.REGISTRY_LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    for name in ("alice", "bob", "carol"):
        assert client.get("/auth/token", **basic(name, "wrong")).status_code == 401
    assert client.get("/auth/token", **basic("root", "root-pw")).status_code == 429
    other_address = client.get("/auth/token", REMOTE_ADDR="10.9.9.9", **basic("root", "root-pw"))
    assert other_address.status_code == 200
