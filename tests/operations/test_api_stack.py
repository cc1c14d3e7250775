"""The WSGI application sends the registry's paths through the short API middleware stack
(registry_project/wsgi.py) and everything else through the portal's: a `docker pull` pays
for no session, CSRF or messages work, and the portal keeps all of it."""
from __future__ import annotations

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory

from registry_project.wsgi import application

pytestmark = pytest.mark.django_db


def _call(path: str) -> tuple[str, dict]:
    environ = RequestFactory().get(path).environ
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    # As django.test.Client does: the request must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = application(environ, start_response)
        b"".join(body)
        body.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"]


@pytest.mark.parametrize("path", ["/v2/", "/v2", "/v2/library/app/tags/list", "/auth/token", "/healthz", "/metrics"])
def test_registry_paths_skip_the_portal_middleware(path, settings):
    settings.REGISTRY_AUTH_ENABLED = False
    status, headers = _call(path)
    assert "X-Frame-Options" not in headers  # XFrameOptionsMiddleware is portal-only
    assert "Cookie" not in headers.get("Vary", "")  # no session or CSRF work
    assert headers["X-Request-ID"]  # the request log is in this stack too


@pytest.mark.parametrize("path", ["/", "/login/", "/v2x", "/admin/login/"])
def test_portal_paths_keep_the_full_stack(path):
    status, headers = _call(path)
    assert headers.get("X-Frame-Options") == "DENY", (path, status)
    assert headers["X-Request-ID"]
