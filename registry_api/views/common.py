"""What every /v2/ view shares: method dispatch and validation of path parameters."""
from __future__ import annotations

import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..errors import BlobUploadUnknown, DigestInvalid, NameInvalid, TagInvalid, Unsupported
from ..reference import InvalidReference, is_digest_reference, parse_digest, validate_name, validate_tag

Handler = Callable[..., HttpResponse]


def _validate_name(value: str) -> str:
    try:
        return validate_name(value)
    except InvalidReference as exc:
        raise NameInvalid(str(exc), detail={"name": value[:300]}) from None


def validate_digest(value: str) -> str:
    try:
        return str(parse_digest(value))
    except InvalidReference as exc:
        raise DigestInvalid(str(exc), detail={"digest": value[:300]}) from None


def _validate_reference(value: str) -> str:
    if is_digest_reference(value):
        return validate_digest(value)
    try:
        return validate_tag(value)
    except InvalidReference as exc:
        raise TagInvalid(str(exc), detail={"tag": value[:300]}) from None


def _validate_upload_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BlobUploadUnknown(detail={"uuid": value[:100]}) from None


VALIDATORS = {
    "name": _validate_name,
    "digest": validate_digest,
    "reference": _validate_reference,
    "upload_id": _validate_upload_id,
}


def endpoint(**handlers: Handler):
    """A view that validates the path parameters and dispatches on the HTTP method."""
    allowed = ", ".join(sorted(handlers))

    @csrf_exempt
    def view(request: HttpRequest, **kwargs: str) -> HttpResponse:
        handler = handlers.get(request.method)
        if handler is None:
            raise Unsupported(f"method {request.method} not allowed", headers={"Allow": allowed})
        # Name first: an invalid name is reported as such even when the rest is bad too.
        for key in sorted(kwargs, key=lambda k: k != "name"):
            kwargs[key] = VALIDATORS[key](kwargs[key])
        return handler(request, **kwargs)

    return view


def require_delete_enabled() -> None:
    if not settings.REGISTRY_DELETE_ENABLED:
        raise Unsupported("deletes are disabled on this registry")


def empty(status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(status=status)
    response["Content-Length"] = "0"
    for key, value in (headers or {}).items():
        response[key] = value
    return response
