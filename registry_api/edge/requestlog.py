"""One log line per request, as JSON or plain text, and the request id on every line.

`RequestLogMiddleware` (outermost) gives each request an id (the client's `X-Request-ID`
when it is sane, else a new one), answers it in `X-Request-ID`, and logs action, method,
path, route, repository, user, status, bytes in and out, and duration on the
`registry.request` logger; it also feeds the Prometheus metrics. `RequestIdFilter` puts the
id on every other line logged while the request runs. Nothing secret is logged: no headers,
no query string. The line formats are in `logformat`.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import time

from . import metrics
from .logformat import JsonFormatter, PlainFormatter  # noqa: F401  (settings name them here)

logger = logging.getLogger("registry.request")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


# What a request did, by route and method, for people reading and filtering logs.
_ROUTE_ACTIONS = {
    "manifest": {"GET": "pull", "HEAD": "check", "PUT": "push", "DELETE": "delete"},
    "blob": {"GET": "pull", "HEAD": "check", "DELETE": "delete"},
    "upload_session": {"DELETE": "upload_cancel"},
    "token": {"GET": "login", "POST": "login"},
    "login": {"POST": "login"},
    "api_repository": {"DELETE": "delete"},
    "repository_delete": {"POST": "delete"},
    "tag_delete": {"POST": "delete"},
    "manifest_delete": {"POST": "delete"},
}
_ROUTE_DEFAULTS = {
    "base": "version", "catalog": "catalog", "tags_list": "tags", "referrers": "referrers",
    "upload_session": "upload", "healthz": "health", "readyz": "health", "metrics": "metrics",
}


def action_for(route: str, method: str) -> str | None:
    """What a request on a named API route does, when its route and method say it."""
    by_method = _ROUTE_ACTIONS.get(route, {})
    if method in by_method:
        return by_method[method]
    return _ROUTE_DEFAULTS.get(route)


def action_of(request, route: str) -> str:
    """push, pull, check, upload, mount, delete, login, catalog, tags, … or portal/admin/other."""
    if route == "upload_start":
        return "mount" if "mount" in request.GET else "upload"
    action = action_for(route, request.method)
    if action is not None:
        return action
    match = getattr(request, "resolver_match", None)
    namespaces = match.namespaces if match else []
    if "admin" in namespaces:
        return "admin"
    if "webui" in namespaces:
        return "portal"
    return "other"


def _response_bytes(request, response) -> int:
    if request.method == "HEAD":
        return 0
    # A body nginx sends for us (X-Accel-Redirect): the view says how much that will be.
    sent_elsewhere = getattr(request, "registry_bytes_out", None)
    if sent_elsewhere is not None:
        return sent_elsewhere
    if response.streaming:
        return int(response.get("Content-Length", 0) or 0)
    return len(response.content)


@contextlib.contextmanager
def request_id_scope(incoming: str):
    """The request's id (the client's X-Request-ID when sane, else a new one), on every line
    logged until the block ends."""
    request_id = incoming if _SANE_ID.match(incoming) else os.urandom(16).hex()  # uuid4() is 5x slower
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)


# Polled constantly: counted in the metrics, not logged.
_UNLOGGED_PREFIXES = ("/static/", "/metrics", "/healthz", "/readyz")


def record(*, method: str, path: str, route: str, repository: str, user: str, action: str, status: int,
           seconds: float, bytes_in: int, bytes_out: int) -> None:
    """The metrics and the log line of one request (the middleware's, and fastpath.py's)."""
    metrics.observe_request(route, method, status, seconds, bytes_in, bytes_out)
    if path.startswith(_UNLOGGED_PREFIXES):
        return
    logger.info(
        "%s %s %s", method, path, status,
        extra={
            "action": action, "method": method, "path": path, "route": route, "repository": repository,
            "user": user or "-", "status": status, "bytes_in": bytes_in,
            "bytes_out": bytes_out, "duration_ms": round(seconds * 1000, 1),
        },
    )


class RequestLogMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with request_id_scope(request.headers.get("X-Request-ID", "")) as request_id:
            started = time.perf_counter()
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            self._record(request, response, time.perf_counter() - started)
            return response

    @staticmethod
    def _record(request, response, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        route = match.url_name if match and match.url_name else "other"
        access = getattr(request, "registry_access", None)
        if access is not None:
            user = access.identity.subject
        else:
            user = request.user.get_username() if getattr(request, "user", None) and request.user.is_authenticated else ""
        record(
            method=request.method, path=request.path, route=route,
            repository=match.kwargs.get("name", "") if match else "", user=user,
            action=action_of(request, route), status=response.status_code, seconds=seconds,
            bytes_in=getattr(request, "registry_bytes_in", 0), bytes_out=_response_bytes(request, response),
        )
