"""A changed password ends every login made with the old one: Bearer tokens, refresh tokens
(docker's stored identity token) and the per-process cache of verified passwords."""
from __future__ import annotations

import pytest

from registry_api.auth.credentials import access_token_create

from .conftest import basic, bearer, get_token

pytestmark = pytest.mark.django_db

SCOPE = "repository:team/app:pull"


def change_password(user, password: str = "new-pw") -> None:
    user.set_password(password)
    user.save()


def refresh(client, refresh_token: str):
    return client.post("/auth/token", {
        "grant_type": "refresh_token", "refresh_token": refresh_token, "service": "docker-registry-manager",
        "client_id": "docker", "scope": SCOPE,
    })


def test_bearer_tokens_bought_with_the_old_password_stop_working(client, users):
    token = get_token(client, SCOPE, auth=basic("alice", "alice-pw"))["token"]
    assert client.get("/v2/team/app/tags/list", **bearer(token)).status_code == 404  # allowed
    change_password(users["alice"])
    response = client.get("/v2/team/app/tags/list", **bearer(token))
    assert response.status_code == 401 and 'error="invalid_token"' in response["WWW-Authenticate"]


def test_refresh_tokens_bought_with_the_old_password_stop_working(client, users):
    body = get_token(client, SCOPE, auth=basic("alice", "alice-pw"), offline_token="true")
    assert refresh(client, body["refresh_token"]).status_code == 200
    change_password(users["alice"])
    assert refresh(client, body["refresh_token"]).status_code == 401
    fresh = get_token(client, SCOPE, auth=basic("alice", "new-pw"), offline_token="true")
    assert refresh(client, fresh["refresh_token"]).status_code == 200


def test_the_old_password_is_refused_at_once_though_it_was_just_verified(client, users):
    assert client.get("/v2/team/app/tags/list", **basic("alice", "alice-pw")).status_code == 404
    change_password(users["alice"])
    assert client.get("/v2/team/app/tags/list", **basic("alice", "alice-pw")).status_code == 401
    assert client.get("/v2/team/app/tags/list", **basic("alice", "new-pw")).status_code == 404


def test_access_tokens_do_not_depend_on_the_password(client, users):
    _, secret = access_token_create(user=users["alice"], name="ci")
    body = get_token(client, SCOPE, auth=basic("alice", secret), offline_token="true")
    change_password(users["alice"])
    assert client.get("/v2/team/app/tags/list", **bearer(body["token"])).status_code == 404
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_deactivating_a_user_ends_everything(client, users):
    _, secret = access_token_create(user=users["alice"], name="ci")
    by_password = get_token(client, SCOPE, auth=basic("alice", "alice-pw"), offline_token="true")
    by_token = get_token(client, SCOPE, auth=basic("alice", secret), offline_token="true")
    users["alice"].is_active = False
    users["alice"].save()
    for body in (by_password, by_token):
        assert client.get("/v2/team/app/tags/list", **bearer(body["token"])).status_code == 401
        assert refresh(client, body["refresh_token"]).status_code == 401
    for password in ("alice-pw", secret):
        assert client.get("/v2/team/app/tags/list", **basic("alice", password)).status_code == 401
