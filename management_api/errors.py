"""The one place where every failure of the management API becomes its JSON error:
`{"code": "...", "message": "...", "fields": {...}}` with the right status. DRF's own
exceptions keep their status and code; the registry's domain errors (RegistryError, e.g.
the throttle's 429) keep their status and message; anything unexpected is a 500 whose
traceback goes to the log, never to the client."""
from __future__ import annotations

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from registry_api.oci.errors import RegistryError

logger = logging.getLogger(__name__)

# A domain error's code on this API: the status says what kind of failure it is.
_CODES = {400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 429: "throttled"}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "the request conflicts with the current state"
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "the resource changed since it was read (If-Match does not match its ETag)"
    default_code = "precondition_failed"


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "send If-Match with the ETag of the resource as you last read it"
    default_code = "precondition_required"


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        name, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if name == "non_field_errors" else f"{name}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def error(code: str, message: str, status_code: int, headers: dict | None = None, fields=None) -> Response:
    body = {"code": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    return Response(body, status=status_code, headers=headers)


def _from_api_exception(exc: exceptions.APIException) -> Response:
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error("invalid", _first_message(detail), exc.status_code, headers, fields=detail)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return error(code, str(exc.detail), exc.status_code, headers)


def exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, (Http404, ObjectDoesNotExist)):  # e.g. deleted while we waited on its lock
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        return _from_api_exception(exc)
    if isinstance(exc, RegistryError):
        return error(_CODES.get(exc.status, exc.code.lower()), exc.message, exc.status, exc.headers)
    request = context.get("request")
    logger.error("unhandled error on %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"),
                 exc_info=exc)
    return error("internal_error", "internal error; the server log has the details", 500)
