"""Plain manifest GETs and HEADs are answered beneath Django (registry_api/edge/fastpath.py) with
exactly the answer Django's handler gives; everything else is left to Django.

Each case runs the request twice, through the whole WSGI application and through Django's
API handler alone, with the same X-Request-ID, and compares status, headers and body.
"""
from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.test import RequestFactory
from prometheus_client import REGISTRY

from registry_api.auth import tokens
from registry_api.auth.credentials import password_fingerprint
from registry_api.edge import fastpath
from registry_api.models import ProxyNamespace, Tag
from registry_project.wsgi import ApiHandler
from tests.wsgi_call import call_application, fast_path_answer as read

def _environ(path: str, method: str = "head", **headers) -> dict:
    return getattr(RequestFactory(), method)(path, HTTP_X_REQUEST_ID="parity-1", **headers).environ


def both(path: str, method: str = "head", **headers) -> tuple[tuple, tuple]:
    """(whole application's answer, Django handler's answer). The handler is built anew, as
    its middleware read the settings when they are made and a test may have changed them."""
    return (call_application(_environ(path, method, **headers)),
            call_application(_environ(path, method, **headers), ApiHandler()))


def _requests(route: str, status: str, method: str = "HEAD") -> float:
    return REGISTRY.get_sample_value(
        "registry_http_requests_total", {"route": route, "method": method, "status": status}) or 0.0


@pytest.mark.parametrize("method", ["head", "get"])
@pytest.mark.parametrize("reference", ["latest", "digest"])
def test_a_plain_read_is_answered_beneath_django_with_djangos_answer(pushed_image, reference, method):
    reference = pushed_image.manifest.digest if reference == "digest" else reference
    path = f"/v2/library/app/manifests/{reference}"
    assert read(_environ(path, method)) is not None
    fast, django = both(path, method)
    assert fast == django
    status, headers, body = fast
    assert status == "200 OK" and body == (pushed_image.manifest.data if method == "get" else b"")
    assert headers["Docker-Content-Digest"] == pushed_image.manifest.digest
    assert headers["Content-Length"] == str(len(pushed_image.manifest.data))
    assert headers["Content-Type"] == pushed_image.manifest.media_type
    assert headers["X-Request-ID"] == "parity-1"
    assert headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_a_fresh_request_id_is_made_when_the_client_sends_none(pushed_image):
    environ = RequestFactory().head("/v2/library/app/manifests/latest").environ
    headers = dict(read(environ)[0])
    assert len(headers["X-Request-ID"]) == 32 and int(headers["X-Request-ID"], 16) >= 0


def test_it_is_logged_and_counted_as_the_view_would_be(pushed_image, caplog):
    before = _requests("manifest", "200")
    with caplog.at_level(logging.INFO, logger="registry.request"):
        assert read(_environ("/v2/library/app/manifests/latest")) is not None
    assert _requests("manifest", "200") == before + 1
    (line,) = [r for r in caplog.records if r.name == "registry.request"]
    assert (line.action, line.route, line.repository, line.status, line.bytes_out) == (
        "check", "manifest", "library/app", 200, 0)
    assert line.path == "/v2/library/app/manifests/latest"
    assert line.request_id == "parity-1"


@pytest.mark.parametrize("path, headers, status", [
    ("/v2/library/app/manifests/nope", {}, "404 Not Found"),  # unknown tag
    ("/v2/library/gone/manifests/latest", {}, "404 Not Found"),  # unknown repository
    ("/v2/Library/app/manifests/latest", {}, "400 Bad Request"),  # invalid name
    ("/v2/library/app/manifests/-bad-", {}, "404 Not Found"),  # invalid tag: no such manifest
    ("/v2/library/app/manifests/sha256:1234", {}, "404 Not Found"),  # invalid digest, likewise
    ("/v2/library/app/manifests/latest", {"HTTP_ORIGIN": "https://ui.example"}, "200 OK"),  # CORS
    ("/v2/library/app/manifests/latest", {"HTTP_AUTHORIZATION": "Basic Zm9vOmJhcg=="}, "401 Unauthorized"),  # unknown user
    ("/v2/library/app/manifests/latest", {"HTTP_AUTHORIZATION": "Bearer not-a-token"}, "401 Unauthorized"),
])
def test_everything_else_is_left_to_django(pushed_image, path, headers, status):
    assert read(_environ(path, **headers)) is None
    fast, django = both(path, **headers)
    assert fast == django
    assert fast[0] == status


def test_a_conditional_head_is_left_to_django(pushed_image):
    etag = f'"{pushed_image.manifest.digest}"'
    assert read(_environ("/v2/library/app/manifests/latest", HTTP_IF_NONE_MATCH=etag)) is None
    fast, django = both("/v2/library/app/manifests/latest", HTTP_IF_NONE_MATCH=etag)
    assert fast == django and fast[0] == "304 Not Modified"


def test_a_query_string_or_another_method_is_left_to_django(pushed_image, monkeypatch):
    monkeypatch.setattr(fastpath, "manifest_read", None)  # a call would fail the request
    environ = RequestFactory().head("/v2/library/app/manifests/latest", {"ns": "docker.io"}).environ
    status, headers, _ = call_application(environ)
    assert status == "200 OK"
    environ = RequestFactory().delete("/v2/library/app/manifests/latest").environ
    status, headers, body = call_application(environ)
    assert status == "202 Accepted"


def test_a_get_is_a_pull_noted_on_the_tag_and_logged(pushed_image, caplog):
    before = _requests("manifest", "200", "GET")
    with caplog.at_level(logging.INFO):
        headers, body = read(_environ("/v2/library/app/manifests/latest", "get"))
    assert body == pushed_image.manifest.data
    assert Tag.objects.get(repository__name="library/app", name="latest").last_pulled_at is not None
    assert _requests("manifest", "200", "GET") == before + 1
    lines = [(r.name, r.getMessage()) for r in caplog.records]
    assert ("registry_api.views.manifests", "pull manifest repository=library/app reference=latest "
            f"digest={pushed_image.manifest.digest}") in lines
    (line,) = [r for r in caplog.records if r.name == "registry.request"]
    assert (line.action, line.bytes_out) == ("pull", len(pushed_image.manifest.data))


def test_a_proxy_cache_name_is_left_to_django(pushed_image):
    ProxyNamespace.objects.create(name="hub", upstream_url="http://127.0.0.1:9", library_default=True)
    assert read(_environ("/v2/hub/alpine/manifests/latest")) is None


def test_a_database_error_is_left_to_django_quietly(pushed_image, monkeypatch, caplog):
    def broken(**kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(fastpath, "manifest_for_pull", broken)
    with caplog.at_level(logging.WARNING):
        assert read(_environ("/v2/library/app/manifests/latest")) is None
    assert not [r for r in caplog.records if r.name == "registry_api.edge.fastpath"]


def test_an_unexpected_error_is_logged_and_left_to_django(pushed_image, monkeypatch, caplog):
    def broken(**kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(fastpath, "manifest_for_pull", broken)
    with caplog.at_level(logging.WARNING):
        status, headers, _ = call_application(_environ("/v2/library/app/manifests/latest"))
    assert status == "200 OK"  # Django's view answered
    assert [r.levelname for r in caplog.records if r.name == "registry_api.edge.fastpath"] == ["ERROR"]


@pytest.mark.parametrize("overrides", [
    {"SECURE_REFERRER_POLICY": "no-referrer", "SECURE_CROSS_ORIGIN_OPENER_POLICY": None},
    {"SECURE_CONTENT_TYPE_NOSNIFF": False},
    {"CORS_ALLOWED_ORIGINS": ["https://ui.example"]},
])
def test_the_fixed_headers_follow_the_settings(pushed_image, settings, overrides):
    for key, value in overrides.items():
        setattr(settings, key, value)
    assert read(_environ("/v2/library/app/manifests/latest")) is not None
    fast, django = both("/v2/library/app/manifests/latest")
    assert fast == django


def test_an_https_redirect_is_left_to_django(pushed_image, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert read(_environ("/v2/library/app/manifests/latest")) is None
    settings.SECURE_SSL_REDIRECT = False
    assert read(_environ("/v2/library/app/manifests/latest")) is not None


def test_hsts_is_sent_on_https_answers_only_as_django_sends_it(pushed_image, settings):
    """Behind the TLS proxy (REGISTRY_BEHIND_PROXY) with HSTS on, as in production."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    for proto in ("https", "http", "https"):
        environ = _environ("/v2/library/app/manifests/latest", HTTP_X_FORWARDED_PROTO=proto)
        assert read(environ) is not None
        fast, django = both("/v2/library/app/manifests/latest", HTTP_X_FORWARDED_PROTO=proto)
        assert fast == django
        assert fast[1].get("Strict-Transport-Security") == ("max-age=3600" if proto == "https" else None)


def _token(subject: str = "", credential: str = "anonymous") -> str:
    token, _ttl, _now = tokens.issue_access_token(
        subject=subject, service=settings.REGISTRY_TOKEN_SERVICE, access=[], credential=credential)
    return f"Bearer {token}"


@pytest.fixture
def user_token(db):
    user = User.objects.create_user("vera", password="pw-vera-1234")
    return _token("vera", f"password:{password_fingerprint(user)}")


@pytest.mark.parametrize("method", ["head", "get"])
@pytest.mark.parametrize("who", ["user", "anonymous"])
def test_the_version_check_with_a_token_is_answered_beneath_django_with_djangos_answer(user_token, who, method):
    """docker's GET /v2/ before each push and pull, with the token it just fetched (an
    anonymous one too: require_signed_in lets any token through)."""
    authorization = user_token if who == "user" else _token()
    assert read(_environ("/v2/", method, HTTP_AUTHORIZATION=authorization)) is not None
    fast, django = both("/v2/", method, HTTP_AUTHORIZATION=authorization)
    assert fast[0] == django[0] == "200 OK"
    assert fast[1] == django[1]
    assert fast[2] == (b"{}" if method == "get" else b"")
    assert fast[1]["Content-Type"] == "application/json" and fast[1]["X-Request-ID"] == "parity-1"


def test_the_version_check_is_logged_and_counted_as_the_view_would_be(user_token, caplog):
    before = _requests("base", "200", "GET")
    with caplog.at_level(logging.INFO, logger="registry.request"):
        assert read(_environ("/v2/", "get", HTTP_AUTHORIZATION=user_token)) is not None
    assert _requests("base", "200", "GET") == before + 1
    (line,) = [r for r in caplog.records if r.name == "registry.request"]
    assert (line.action, line.route, line.user, line.status, line.bytes_out, line.path) == (
        "version", "base", "vera", 200, 2, "/v2/")


@pytest.mark.parametrize("headers, status", [
    ({}, "401 Unauthorized"),  # the challenge that sends docker to the token endpoint
    ({"HTTP_AUTHORIZATION": "Basic dmVyYTpwdy12ZXJhLTEyMzQ="}, "200 OK"),  # throttled and audited by the view
    ({"HTTP_AUTHORIZATION": "Bearer not-a-token"}, "401 Unauthorized"),
    ({"HTTP_ORIGIN": "https://ui.example"}, "401 Unauthorized"),
])
def test_any_other_version_check_is_left_to_django(user_token, settings, headers, status):
    settings.REGISTRY_AUTH_ENABLED = True  # as installed
    assert read(_environ("/v2/", "get", **headers)) is None
    fast, django = both("/v2/", "get", **headers)
    assert fast == django and fast[0] == status


def test_a_revoked_credential_is_left_to_django_which_refuses_it(user_token):
    User.objects.filter(username="vera").update(is_active=False)
    assert read(_environ("/v2/", "get", HTTP_AUTHORIZATION=user_token)) is None
    assert both("/v2/", "get", HTTP_AUTHORIZATION=user_token)[0][0] == "401 Unauthorized"


def test_with_access_control_off_anyone_is_answered_beneath_django(db, settings):
    settings.REGISTRY_AUTH_ENABLED = False
    assert read(_environ("/v2/", "get")) is not None
    fast, django = both("/v2/", "get")
    assert fast == django and fast[0] == "200 OK"
