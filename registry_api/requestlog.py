"""One log line per request, as JSON or plain text, and the request id on every line.

`RequestLogMiddleware` (outermost) gives each request an id (the client's `X-Request-ID`
when it is sane, else a new one), answers it in `X-Request-ID`, and logs action, method,
path, route, repository, user, status, bytes in and out, and duration on the
`registry.request` logger; it also feeds the Prometheus metrics. `RequestIdFilter` puts the
id on every other line logged while the request runs. Nothing secret is logged: no headers,
no query string. The line formats are in `logformat`.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

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


def action_of(request, route: str) -> str:
    """push, pull, check, upload, mount, delete, login, catalog, tags, … or portal/admin/other."""
    if route == "upload_start":
        return "mount" if "mount" in request.GET else "upload"
    by_method = _ROUTE_ACTIONS.get(route, {})
    if request.method in by_method:
        return by_method[request.method]
    if route in _ROUTE_DEFAULTS:
        return _ROUTE_DEFAULTS[route]
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


class RequestLogMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            self._record(request, response, time.perf_counter() - started)
            return response
        finally:
            _request_id.reset(token)

    @staticmethod
    def _record(request, response, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        route = match.url_name if match and match.url_name else "other"
        repository = match.kwargs.get("name", "") if match else ""
        access = getattr(request, "registry_access", None)
        if access is not None:
            user = access.identity.subject
        else:
            user = request.user.get_username() if getattr(request, "user", None) and request.user.is_authenticated else ""
        bytes_in = getattr(request, "registry_bytes_in", 0)
        bytes_out = _response_bytes(request, response)
        metrics.observe_request(route, request.method, response.status_code, seconds, bytes_in, bytes_out)
        if request.path.startswith(("/static/", "/metrics", "/healthz", "/readyz")):
            return  # polled constantly; metrics still count them
        logger.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={
                "action": action_of(request, route), "method": request.method, "path": request.path,
                "route": route, "repository": repository,
                "user": user or "-", "status": response.status_code, "bytes_in": bytes_in,
                "bytes_out": bytes_out, "duration_ms": round(seconds * 1000, 1),
            },
        )
