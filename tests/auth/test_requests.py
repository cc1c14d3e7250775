"""/v2/ requests under access control: challenges, Bearer tokens, HTTP Basic, access tokens."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth.models import User
from django.utils import timezone

from registry_api.auth import tokens
from registry_api.auth.credentials import access_token_create, password_fingerprint
from registry_api.models import AccessToken, RepositoryBlob

from .conftest import basic, bearer, get_token

pytestmark = pytest.mark.django_db


def challenge_of(response) -> str:
    assert response.status_code == 401, response.content
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    return response["WWW-Authenticate"]


def test_anonymous_version_check_is_challenged_with_the_realm(client, users):
    value = challenge_of(client.get("/v2/"))
    assert value == 'Bearer realm="http://testserver/auth/token",service="docker-registry-manager"'
    assert client.get("/v2/")["Docker-Distribution-API-Version"] == "registry/2.0"


def test_signed_in_version_check(client, users):
    assert client.get("/v2/", **basic("bob", "bob-pw")).status_code == 200
    token = get_token(client, auth=basic("bob", "bob-pw"))["token"]
    assert client.get("/v2/", **bearer(token)).status_code == 200


def test_challenge_names_the_scope_and_reveals_nothing_about_existence(client, users):
    pull = challenge_of(client.get("/v2/team/missing/manifests/latest"))
    assert 'scope="repository:team/missing:pull"' in pull
    push = challenge_of(client.post("/v2/team/app/blobs/uploads/"))
    assert 'scope="repository:team/app:pull,push"' in push


def test_pull_only_user_is_denied_push(client, users):
    response = client.post("/v2/team/app/blobs/uploads/", **basic("bob", "bob-pw"))
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "DENIED"


def test_pull_only_token_is_denied_push(client, users):
    token = get_token(client, "repository:team/app:pull,push", auth=basic("bob", "bob-pw"))["token"]
    response = client.post("/v2/team/app/blobs/uploads/", **bearer(token))
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "DENIED"


def test_token_without_the_scope_of_an_allowed_action_asks_for_a_new_one(client, users):
    token = get_token(client, "repository:team/app:pull", auth=basic("alice", "alice-pw"))["token"]
    value = challenge_of(client.post("/v2/team/app/blobs/uploads/", **bearer(token)))
    assert 'error="insufficient_scope"' in value and "repository:team/app:pull,push" in value


def test_push_creates_the_repository_when_the_namespace_allows(client, users):
    token = get_token(client, "repository:team/new/app:pull,push", auth=basic("alice", "alice-pw"))["token"]
    response = client.post("/v2/team/new/app/blobs/uploads/", **bearer(token))
    assert response.status_code == 202
    denied = client.post("/v2/elsewhere/app/blobs/uploads/", **basic("alice", "alice-pw"))
    assert denied.status_code == 403


def test_user_of_one_namespace_cannot_read_another(client, users):
    response = client.get("/v2/other/x/tags/list", **basic("bob", "bob-pw"))
    assert response.status_code == 403
    response = client.get("/v2/team/x/tags/list", **basic("carol", "carol-pw"))
    assert response.status_code == 403


def _forge(claims: dict, key=None) -> str:
    key = key or tokens.signing_key().private_key
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": tokens.signing_key().kid})


def _claims(**overrides) -> dict:
    now = int(time.time())
    bob = User.objects.get(username="bob")
    claims = {
        "iss": "docker-registry-manager", "sub": "bob", "aud": "docker-registry-manager",
        "exp": now + 300, "nbf": now, "iat": now, "jti": "x", "cred": f"password:{password_fingerprint(bob)}",
        "access": [{"type": "repository", "name": "team/app", "actions": ["pull"]}],
    }
    claims.update(overrides)
    return claims


def test_a_well_formed_token_is_accepted(client, users):
    assert client.get("/v2/team/app/tags/list", **bearer(_forge(_claims()))).status_code == 404  # allowed; no repo


def test_tampered_token_is_refused(client, users):
    token = _forge(_claims())
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["access"][0]["actions"] = ["pull", "push", "delete"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = client.delete("/v2/team/app/manifests/latest", **bearer(f"{header}.{forged_payload}.{signature}"))
    assert 'error="invalid_token"' in challenge_of(response)


@pytest.mark.parametrize("overrides", [
    {"exp": int(time.time()) - 120},
    {"aud": "another-registry"},
    {"iss": "someone-else"},
    {"cred": "password"},  # issued before credentials carried a fingerprint
    {"cred": "password:0123456789abcdef0123456789abcdef"},
])
def test_expired_foreign_or_unbound_tokens_are_refused(client, users, overrides):
    challenge_of(client.get("/v2/team/app/tags/list", **bearer(_forge(_claims(**overrides)))))


def test_token_signed_with_another_key_is_refused(client, users):
    other_key = ec.generate_private_key(ec.SECP256R1())
    challenge_of(client.get("/v2/team/app/tags/list", **bearer(_forge(_claims(), other_key))))


def test_token_for_a_deactivated_user_is_refused(client, users):
    token = get_token(client, "repository:team/app:pull", auth=basic("bob", "bob-pw"))["token"]
    users["bob"].is_active = False
    users["bob"].save()
    challenge_of(client.get("/v2/team/app/tags/list", **bearer(token)))


def test_access_token_works_as_a_password_and_records_its_use(client, users):
    token, secret = access_token_create(user=users["alice"], name="ci")
    assert client.post("/v2/team/app/blobs/uploads/", **basic("alice", secret)).status_code == 202
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert AccessToken.objects.get(pk=token.pk).key_hash != secret and secret not in token.key_hash


def test_access_token_of_another_user_name_is_refused(client, users):
    _, secret = access_token_create(user=users["alice"], name="ci")
    assert client.get("/v2/team/app/tags/list", **basic("bob", secret)).status_code == 401


def test_read_only_token_pulls_but_cannot_push(client, users):
    _, secret = access_token_create(user=users["alice"], name="ro", read_only=True)
    assert client.get("/v2/team/app/tags/list", **basic("alice", secret)).status_code == 404  # allowed
    assert client.post("/v2/team/app/blobs/uploads/", **basic("alice", secret)).status_code == 403
    body = get_token(client, "repository:team/app:pull,push", auth=basic("alice", secret))
    assert jwt.decode(body["token"], options={"verify_signature": False})["access"][0]["actions"] == ["pull"]


def test_expired_or_revoked_access_token_is_refused(client, users):
    expired, expired_secret = access_token_create(
        user=users["alice"], name="old", expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert client.get("/v2/team/app/tags/list", **basic("alice", expired_secret)).status_code == 401
    live, secret = access_token_create(user=users["alice"], name="live")
    bearer_token = get_token(client, "repository:team/app:pull", auth=basic("alice", secret))["token"]
    AccessToken.objects.filter(pk=live.pk).update(revoked=True)
    assert client.get("/v2/team/app/tags/list", **basic("alice", secret)).status_code == 401
    # A Bearer token bought with a revoked credential stops working at once, not at expiry.
    challenge_of(client.get("/v2/team/app/tags/list", **bearer(bearer_token)))


def test_basic_on_v2_can_be_switched_off(client, users, settings):
    settings.REGISTRY_AUTH_BASIC = False
    challenge_of(client.get("/v2/team/app/tags/list", **basic("alice", "alice-pw")))


def test_bad_basic_credentials_on_v2_are_401_not_anonymous(client, users, settings):
    settings.REGISTRY_ANONYMOUS_PULL = True
    challenge_of(client.get("/v2/team/app/tags/list", **basic("alice", "wrong")))


@pytest.mark.parametrize("anonymous_pull", [False, True])
def test_version_check_challenges_anonymous_callers_even_with_anonymous_pull(client, users, settings, anonymous_pull):
    """Else `docker login` with a wrong password says "Login Succeeded" (it never sends it)."""
    settings.REGISTRY_ANONYMOUS_PULL = anonymous_pull
    challenge_of(client.get("/v2/"))
    challenge_of(client.get("/v2/", **basic("alice", "wrong")))
    assert client.get("/v2/", **basic("alice", "alice-pw")).status_code == 200


def test_anonymous_clients_follow_the_challenge_and_pull_public_content(client, users, settings):
    settings.REGISTRY_ANONYMOUS_PULL = True
    body = get_token(client, "repository:team/app:pull")  # what the challenge sends them to
    assert client.get("/v2/", **bearer(body["token"])).status_code == 200
    assert client.get("/v2/team/app/tags/list", **bearer(body["token"])).status_code == 404  # allowed; no repo
    assert client.post("/v2/team/app/blobs/uploads/", **bearer(body["token"])).status_code == 401


def test_only_a_caller_who_may_push_restarts_a_blob_links_grace_period(client, users):
    data = b"a layer alice pushed"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    pushed = client.post(f"/v2/team/app/blobs/uploads/?digest={digest}", data,
                         content_type="application/octet-stream", **basic("alice", "alice-pw"))
    assert pushed.status_code == 201
    old = timezone.now() - timedelta(days=1)
    RepositoryBlob.objects.update(created_at=old)
    assert client.head(f"/v2/team/app/blobs/{digest}", **basic("bob", "bob-pw")).status_code == 200
    assert RepositoryBlob.objects.get().created_at == old  # a puller does not write
    assert client.head(f"/v2/team/app/blobs/{digest}", **basic("alice", "alice-pw")).status_code == 200
    assert RepositoryBlob.objects.get().created_at > old
