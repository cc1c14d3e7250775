"""GET and HEAD /v2/<name>/manifests/<reference>, and of /v2/, answered beneath Django's handler,
when plain.

Clients check and fetch manifests by tag all day (containerd before each pull, Kubernetes
nodes with `imagePullPolicy: Always`, CI runners polling for a new build). In a ~0.4 ms
HEAD, Django's handler, URL resolver and middleware chain took more than half (docs/performance.md,
"Where the time goes"). So a GET or HEAD with a Bearer token (or none), no query, no Origin and no
If-None-Match, for a hosted repository, is answered here with the calls the view makes
itself: `bearer_access`, `has_access`, `routing.route`, `manifest_for_pull`,
`manifest_headers`, for a GET `manifest_pull_note` and `log_pull`, the headers Django's
security middleware and corsheaders add (asked of them once), and the same log line and
metrics. Everything else, and every answer but a 200, returns None and goes through Django
unchanged, so all errors keep one source. tests/api/test_fastpath.py compares the two
answers header by header.

GET /v2/ with a valid Bearer token (or with access control off, none) is the other plain
200: docker and every other client sends it before each push and pull, often on a new
connection. Server CPU per request, 2,000 in a row: 0.34 ms through Django's chain and
0.25 ms here on a kept-alive connection; 0.69 and 0.54 ms on a new connection each.
"""
from __future__ import annotations

import logging
import re
import time

from corsheaders.middleware import CorsMiddleware
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import request_finished, request_started, setting_changed
from django.db import DatabaseError
from django.dispatch import receiver
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware

from .. import urls
from ..auth import access as access_control
from ..oci.errors import RegistryError
from ..oci.reference import InvalidReference
from ..services import routing
from ..services.pull import manifest_for_pull, manifest_pull_note
from ..views.common import VALIDATORS
from ..views.manifests import log_pull, manifest_headers
from . import requestlog
from .middleware import API_VERSION_HEADER

logger = logging.getLogger(__name__)

# The version check (registry_api/urls.py's "base" route) and its answer's body.
VERSION_CHECK = "/v2/"
_VERSION_BODY = b"{}"
# The manifest route of registry_api/urls.py, under /v2/.
_PATH = re.compile(rf"/v2/{urls.NAME}/manifests/(?P<reference>[^/]+)")
# Request headers that change the answer (CORS, a conditional request): the full path.
_DECLINED = ("HTTP_ORIGIN", "HTTP_IF_NONE_MATCH")
# Expected reasons to let Django answer instead: it then says what is wrong.
_DECLINE_QUIETLY = (RegistryError, InvalidReference, DatabaseError)


def _no_response(request):  # the middleware below are only asked for their response headers
    raise AssertionError("not called")


# By whether the request is https: HSTS goes on https answers only.
_fixed: dict[bool, list[tuple[str, str]]] = {}


@receiver(setting_changed)
def _forget_fixed_headers(**kwargs) -> None:
    _fixed.clear()


def _fixed_headers(environ) -> list[tuple[str, str]] | None:
    """What Django's security middleware, corsheaders and ours add to every plain 200 under
    /v2/ (no Origin), asked of them once per scheme; None with an HTTPS redirect, which
    would answer instead."""
    if settings.SECURE_SSL_REDIRECT:
        return None
    request = WSGIRequest(environ)
    secure = request.is_secure()  # X-Forwarded-Proto behind the proxy (a few µs)
    if secure not in _fixed:
        response = HttpResponse(status=200)
        SecurityMiddleware(_no_response).process_response(request, response)
        CorsMiddleware(_no_response).add_response_headers(request, response)
        response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        _fixed[secure] = [(key, value) for key, value in response.items() if key != "Content-Type"]
    return _fixed[secure]


def application(app):
    """Wrap the API's WSGI application: plain manifest GETs and HEADs are answered here."""

    handler_class = type(app)

    def wrapped(environ, start_response):
        answer = plain_read(environ, handler_class)
        if answer is not None:
            headers, body = answer
            start_response("200 OK", headers)
            return [body] if body else []
        return app(environ, start_response)

    return wrapped


def plain_read(environ, handler_class=None) -> tuple[list[tuple[str, str]], bytes] | None:
    """The 200's headers and body of a plain GET or HEAD (no query, none of the headers
    that change the answer) of /v2/ or of a manifest, or None for Django to answer."""
    if (
        environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
        or environ.get("QUERY_STRING")
        or any(header in environ for header in _DECLINED)
    ):
        return None
    if environ.get("PATH_INFO") == VERSION_CHECK:
        return _beneath_django(environ, handler_class, "version check", _version_answer)
    return manifest_read(environ, handler_class)


def manifest_read(environ, handler_class=None) -> tuple[list[tuple[str, str]], bytes] | None:
    """A plain read's answer (plain_read has checked the rest) when it is of a manifest."""
    match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
    if match is None:
        return None
    return _beneath_django(environ, handler_class, "manifest", _answer, match["name"], match["reference"])


def _beneath_django(environ, handler_class, what: str, answer, *args):
    """`answer(environ, *args, request_id, started)` within what Django's handler does around
    a request; None (Django answers) when it declines or fails."""
    started = time.perf_counter()
    with requestlog.request_id_scope(environ.get("HTTP_X_REQUEST_ID", "")) as request_id:
        # Django's handler sends these around each request: closing a connection that has
        # outlived CONN_MAX_AGE or failed, and whatever else listens.
        request_started.send(sender=handler_class, environ=environ)
        try:
            return answer(environ, *args, request_id, started)
        except _DECLINE_QUIETLY:
            return None
        except Exception:
            logger.error("%s fast path failed; Django answers", what, exc_info=True)
            return None
        finally:
            request_finished.send(sender=handler_class)


def _access(environ):
    """The caller's access from a Bearer token or no credentials; None for a token that
    does not hold, or for Basic: authenticate() also throttles and audits, so the view does it."""
    scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer":
        return access_control.bearer_access(value)
    if not scheme:
        return access_control.RequestAccess(access_control.ANONYMOUS)
    return None


def _caller(environ, name: str):
    """The caller's access if it may pull `name` as the view would let it, else None."""
    access = _access(environ)
    if access is None or not access_control.has_access(access, name, "pull"):
        return None
    return access


def _version_answer(environ, request_id: str, started: float):
    access = _access(environ)
    if access is None or not access_control.signed_in(access):
        return None  # the view answers, with the challenge that sends the client for a token
    fixed = _fixed_headers(environ)
    if fixed is None:
        return None
    method = environ["REQUEST_METHOD"]
    body = _VERSION_BODY if method == "GET" else b""
    requestlog.record(
        method=method, path=environ.get("SCRIPT_NAME", "") + VERSION_CHECK, route="base",
        repository="", user=access.identity.subject, action=requestlog.action_for("base", method),
        status=200, seconds=time.perf_counter() - started, bytes_in=0, bytes_out=len(body),
    )
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(_VERSION_BODY)))]
    return [*headers, *fixed, ("X-Request-ID", request_id)], body


def _answer(environ, raw_name: str, raw_reference: str, request_id: str, started: float):
    name = VALIDATORS["name"](raw_name)  # the view's own validators: RegistryError when bad
    reference = VALIDATORS["reference"](raw_reference)
    access = _caller(environ, name)
    if access is None:
        return None
    route = routing.route(name)
    if route.kind != routing.HOSTED:
        return None  # a proxy cache or group may reach upstream: the view's business
    fixed = _fixed_headers(environ)
    if fixed is None:
        return None
    manifest = manifest_for_pull(route=route, reference=reference)
    method = environ["REQUEST_METHOD"]
    body = b""
    if method == "GET":  # a pull, noted and logged as the view does
        manifest_pull_note(route=route, manifest=manifest, reference=reference)
        body = bytes(manifest.payload)
        log_pull(name, reference, manifest)
    path = environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"]  # as request.path: validated ASCII
    requestlog.record(
        method=method, path=path, route="manifest", repository=name, user=access.identity.subject,
        action=requestlog.action_for("manifest", method), status=200, seconds=time.perf_counter() - started,
        bytes_in=0, bytes_out=len(body),
    )
    return [*manifest_headers(manifest).items(), *fixed, ("X-Request-ID", request_id)], body
