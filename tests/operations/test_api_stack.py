"""The WSGI application sends the registry's paths through the short API middleware stack
(registry_project/wsgi.py) and everything else through the portal's: a `docker pull` pays
for no session, CSRF or messages work, and the portal keeps all of it."""
from __future__ import annotations

import pytest
from django.test import RequestFactory

from tests.wsgi_call import call_application

pytestmark = pytest.mark.django_db


def _call(path: str) -> tuple[str, dict]:
    status, headers, _body = call_application(RequestFactory().get(path).environ)
    return status, headers


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
