"""One log line per request, as JSON or plain text, and the request id on every line.

`RequestLogMiddleware` (outermost) gives each request an id (the client's `X-Request-ID`
when it is sane, else a new one), answers it in `X-Request-ID`, and logs method, path,
route, repository, user, status, bytes in and out, and duration on the `registry.request`
logger; it also feeds the Prometheus metrics. `RequestIdFilter` puts the id on every other
line logged while the request runs. Nothing secret is logged: no headers, no query string.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

from . import metrics

logger = logging.getLogger("registry.request")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """A JSON object per line; the fields of the request line are top-level keys."""

    FIELDS = ("method", "path", "route", "repository", "user", "status", "bytes_in", "bytes_out", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key in self.FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and record.levelno >= logging.ERROR:
            # Tracebacks only at ERROR, and only in the log, never in a response.
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _response_bytes(response) -> int:
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
        bytes_out = 0 if request.method == "HEAD" else _response_bytes(response)
        metrics.observe_request(route, request.method, response.status_code, seconds, bytes_in, bytes_out)
        if request.path.startswith(("/static/", "/metrics", "/healthz", "/readyz")):
            return  # polled constantly; metrics still count them
        logger.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={
                "method": request.method, "path": request.path, "route": route, "repository": repository,
                "user": user or "-", "status": response.status_code, "bytes_in": bytes_in,
                "bytes_out": bytes_out, "duration_ms": round(seconds * 1000, 1),
            },
        )
