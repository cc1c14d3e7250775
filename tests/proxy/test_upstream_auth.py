"""How the proxy signs in upstream: anonymous, Basic, Bearer tokens (anonymous or with the
configured credentials) reused until they expire; redirects; never the client's
credentials."""
from __future__ import annotations

import base64

import pytest

from registry_api.models import ProxyNamespace
from registry_api.proxy.credentials import password_encrypt
from tests.api.support import assert_error

from .conftest import body
from .fake_upstream import FakeUpstream

CLIENT_AUTH = "Basic " + base64.b64encode(b"client:client-secret").decode()


@pytest.fixture(autouse=True)
def client_user(django_user_model, settings):
    """The puller signs in to us; none of that may travel upstream."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_user("client", password="client-secret")


def _pull(client, alpine) -> None:
    assert client.get("/v2/hub/alpine/manifests/3.20", HTTP_AUTHORIZATION=CLIENT_AUTH).status_code == 200
    for blob in alpine.blobs:
        assert body(client.get(f"/v2/hub/alpine/blobs/{blob.digest}", HTTP_AUTHORIZATION=CLIENT_AUTH)) == blob.data


def _with_credentials(hub, user="proxy", password="proxy-pw"):
    ProxyNamespace.objects.filter(pk=hub.pk).update(username=user, password_encrypted=password_encrypt(password))


def test_anonymous_upstream_sees_no_authorization(client, hub, alpine, upstream):
    _pull(client, alpine)
    assert {s.authorization for s in upstream.seen} == {""}


def test_bearer_with_anonymous_tokens_reuses_the_token(client, hub, alpine, upstream):
    upstream.auth = "bearer"
    _pull(client, alpine)
    assert upstream.count("GET", "^/token") == 1  # one scope, one token for all four requests
    token_requests = [s for s in upstream.seen if s.path.startswith("/token")]
    assert "scope=repository%3Alibrary%2Falpine%3Apull" in token_requests[0].path
    assert "service=fake-upstream" in token_requests[0].path
    assert token_requests[0].authorization == ""
    assert all(s.authorization.startswith("Bearer ") for s in upstream.seen if s.path.startswith("/v2/") and
               s is not upstream.seen[0])


def test_bearer_token_is_fetched_again_once_expired(client, hub, alpine, upstream, monkeypatch):
    from registry_api.proxy import upstream as module

    upstream.auth, upstream.token_ttl = "bearer", 11  # expires 10 s early: 1 s of use
    client.get("/v2/hub/alpine/manifests/3.20")
    clock = [module.time.monotonic() + 5]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    body(client.get(f"/v2/hub/alpine/blobs/{alpine.config.digest}"))
    assert upstream.count("GET", "^/token") == 2


def test_bearer_with_configured_credentials(client, hub, alpine, upstream):
    upstream.auth, upstream.credentials = "bearer", ("proxy", "proxy-pw")
    _with_credentials(hub)
    _pull(client, alpine)
    expected = "Basic " + base64.b64encode(b"proxy:proxy-pw").decode()
    assert {s.authorization for s in upstream.seen if s.path.startswith("/token")} == {expected}
    assert CLIENT_AUTH not in {s.authorization for s in upstream.seen}


def test_basic_upstream(client, hub, alpine, upstream):
    upstream.auth, upstream.credentials = "basic", ("proxy", "proxy-pw")
    _with_credentials(hub)
    _pull(client, alpine)
    expected = "Basic " + base64.b64encode(b"proxy:proxy-pw").decode()
    # The first request learns the scheme; every later one sends the credentials at once.
    assert [s.authorization for s in upstream.seen] == [""] + [expected] * (len(upstream.seen) - 1)


def test_credentials_from_the_environment(client, hub, alpine, upstream, monkeypatch, tmp_path):
    upstream.auth, upstream.credentials = "basic", ("proxy", "from-file")
    (tmp_path / "pw").write_text("from-file\n")
    monkeypatch.setenv("HUB_PASSWORD_FILE", str(tmp_path / "pw"))
    ProxyNamespace.objects.filter(pk=hub.pk).update(username="proxy", password_env="HUB_PASSWORD")
    assert client.get("/v2/hub/alpine/manifests/3.20").status_code == 200


def test_missing_environment_variable_is_a_clean_error(client, hub, alpine, upstream):
    ProxyNamespace.objects.filter(pk=hub.pk).update(username="proxy", password_env="NOT_SET_ANYWHERE")
    entry = assert_error(client.get("/v2/hub/alpine/manifests/3.20"), 404, "MANIFEST_UNKNOWN")
    assert "NOT_SET_ANYWHERE" in entry["message"]


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_wrong_credentials_are_a_clean_error(client, hub, alpine, upstream, auth):
    upstream.auth, upstream.credentials = auth, ("proxy", "right")
    _with_credentials(hub, password="wrong")
    entry = assert_error(client.get("/v2/hub/alpine/manifests/3.20"), 404, "MANIFEST_UNKNOWN")
    assert "unavailable" in entry["message"]
    assert "wrong" not in entry["message"]


def test_basic_challenge_without_credentials(client, hub, alpine, upstream):
    upstream.auth, upstream.credentials = "basic", ("proxy", "pw")
    entry = assert_error(client.get("/v2/hub/alpine/manifests/3.20"), 404, "MANIFEST_UNKNOWN")
    assert "none are configured" in entry["message"]


def test_blob_redirect_to_another_host_drops_the_authorization(client, hub, alpine, upstream):
    cdn = FakeUpstream().start()
    try:
        cdn.blobs.update(upstream.blobs)
        upstream.cdn, upstream.auth = cdn, "bearer"
        _pull(client, alpine)
        assert cdn.count("GET", "^/cdn/") == 3
        assert {s.authorization for s in cdn.seen} == {""}
    finally:
        cdn.stop()


def test_a_changed_secret_key_is_a_clean_error(client, hub, alpine, upstream, settings):
    _with_credentials(hub)
    settings.SECRET_KEY = "another key altogether"
    entry = assert_error(client.get("/v2/hub/alpine/manifests/3.20"), 404, "MANIFEST_UNKNOWN")
    assert "cannot be decrypted" in entry["message"]
