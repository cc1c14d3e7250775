"""The one place where /v2/ (and /auth/token) failures become the OCI error envelope.

Domain errors keep their code and status; anything unexpected becomes UNKNOWN/500 with the
traceback in the log (ERROR level) and never in the body. On the portal's and the admin's
pages, a sign-in refused by the failed-login throttle becomes the 429 page, and one the
directory could not check the "directory unavailable" page (503).
"""
from __future__ import annotations

import logging

from django.http import Http404
from django.shortcuts import render

from ..auth.directory import DirectoryUnavailable
from ..auth.throttle import TooManyFailures
from ..oci.errors import RegistryError
from .http import error_response

logger = logging.getLogger(__name__)

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
# Paths whose errors are JSON envelopes: the registry API and its token endpoint.
JSON_PREFIXES = ("/v2/", "/auth/")


def is_api_path(path: str) -> bool:
    """/v2/… and /v2 itself (redirected to /v2/, never the portal's HTML 404)."""
    return path == "/v2" or path.startswith("/v2/")


class RegistryErrorMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        _frame(response)
        if is_api_path(request.path):
            response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
            route = getattr(request, "registry_route", None)
            if route is not None and route.namespace:  # a `?ns=` honoured (services/routing.py)
                response["OCI-Namespace"] = route.namespace
            if request.method == "HEAD" and not response.streaming:
                # An error envelope has no place in a HEAD answer (docker and skopeo HEAD
                # every blob before pushing it); gunicorn drops it with a warning per request.
                # Content-Length stays as the GET would send it.
                response.content = b""
        return response

    def process_exception(self, request, exception):
        if not (is_api_path(request.path) or request.path.startswith(JSON_PREFIXES)):
            if isinstance(exception, TooManyFailures):  # authenticate() in a sign-in form
                return too_many_attempts_page(request, exception)
            if isinstance(exception, DirectoryUnavailable):
                return render(request, "directory_unavailable.html", status=503)
            return None
        if isinstance(exception, RegistryError):
            return error_response([exception])
        if isinstance(exception, Http404):
            return error_response([RegistryError("unknown API endpoint", code="UNSUPPORTED", status=404)])
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exception)
        return error_response([RegistryError(code="UNKNOWN")])


def too_many_attempts_page(request, exception: TooManyFailures):
    """429 with Retry-After: the same refusal as the API's, for a browser."""
    response = render(request, "429.html", {"retry_after": exception.retry_after}, status=429)
    for header, value in exception.headers.items():
        response[header] = value
    return response


def _frame(response) -> None:
    """Content-Length on every whole-body answer (error envelopes, lists, tokens), as
    Distribution sends it: without it gunicorn frames them chunked, and the request log
    counts 0 bytes out. Django's CommonMiddleware would add it, but the API's stack
    (settings.API_MIDDLEWARE) leaves that middleware out. Never on 1xx, 204 and 304 (RFC
    9110 §8.6), which views frame themselves."""
    if response.streaming or response.has_header("Content-Length"):
        return
    if response.status_code >= 200 and response.status_code not in (204, 304):
        response["Content-Length"] = str(len(response.content))


class ForwardedClientMiddleware:
    """Behind a reverse proxy (REGISTRY_BEHIND_PROXY): the client address is the one the
    proxy appended last to X-Forwarded-For, so login throttling and the /metrics allow-list
    see real clients rather than the proxy. Off by default: a client could forge the header."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        if settings.REGISTRY_BEHIND_PROXY:
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
            if forwarded:
                request.META["REMOTE_ADDR"] = forwarded.rsplit(",", 1)[-1].strip()
        return self.get_response(request)
