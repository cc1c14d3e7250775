"""What every /v2/ view shares: method dispatch and validation of path parameters."""
from __future__ import annotations

import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..auth import access as access_control
from ..auth.access import Denied
from ..events.context import set_actor
from ..oci.errors import (
    BlobUploadUnknown, DigestInvalid, ManifestUnknown, NameInvalid, PaginationNumberInvalid, TagInvalid, Unsupported,
)
from ..oci.reference import InvalidReference, is_digest_reference, parse_digest, validate_name, validate_tag
from ..services import routing

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


def lookup_reference(value: str) -> str:
    """A manifest reference that is only looked up (GET, HEAD, DELETE). One that could never
    have been stored, an invalid tag or digest, is simply unknown: 404 MANIFEST_UNKNOWN, as
    Distribution and zot answer and the OCI conformance suite expects (its "nonexistent
    manifest" is `.INVALID_MANIFEST_NAME`). Only a PUT is told why its reference is invalid."""
    try:
        return _validate_reference(value)
    except (TagInvalid, DigestInvalid):
        raise ManifestUnknown(detail={"reference": value[:300]}) from None


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


def requires(action: str) -> Callable[[Handler], Handler]:
    """Declare what a handler needs: "pull", "push", "delete" on the repository in the path,
    "signed-in" (GET /v2/), "catalog", or "nothing"."""

    def mark(handler: Handler) -> Handler:
        handler.required_access = action
        return handler

    return mark


def validates(**validators: Callable[[str], str]) -> Callable[[Handler], Handler]:
    """Validate some path parameters of this handler otherwise than by `VALIDATORS`."""

    def mark(handler: Handler) -> Handler:
        handler.validators = validators
        return handler

    return mark


WRITE_ACTIONS = ("push", "delete")


def _route(request: HttpRequest, action: str, name: str) -> routing.Route:
    """Where `name` leads (services/routing.py); pushes and deletes into anything but a hosted
    namespace are DENIED whoever asks."""
    write = action in WRITE_ACTIONS
    route = routing.route(name, ns=None if write else request.GET.get("ns"), write=write)
    request.registry_route = route
    if write and route.read_only:
        raise Denied(f"{route.describe()} is read-only: push to a hosted namespace",
                     detail={"name": name, "action": action})
    return route


def _authorize(request: HttpRequest, action: str, name: str | None) -> None:
    access = access_control.resolve(request)
    request.registry_access = access
    set_actor(access.identity.subject, access_control.client_address(request))
    if action == "signed-in":
        access_control.require_signed_in(request, access)
    elif action == "catalog":
        access_control.require_catalog(request, access)
    elif action != "nothing":
        route = _route(request, action, name)
        # A `?ns=` pull is governed by the rights on the proxy it lands in, besides the token.
        access_control.require(request, access, name, action, effective=route.local_name if route.namespace else None)


def endpoint(**handlers: Handler):
    """A view that validates the path parameters, authorizes the caller for what the
    handler declares with `requires`, and dispatches on the HTTP method."""
    allowed = ", ".join(sorted(handlers))
    for method, handler in handlers.items():
        if not hasattr(handler, "required_access"):
            raise TypeError(f"{handler.__name__} ({method}) does not declare its access with @requires")

    @csrf_exempt
    def view(request: HttpRequest, **kwargs: str) -> HttpResponse:
        handler = handlers.get(request.method)
        if handler is None:
            raise Unsupported(f"method {request.method} not allowed", headers={"Allow": allowed})
        # Name first: an invalid name is reported as such even when the rest is bad too.
        if "name" in kwargs:
            kwargs["name"] = VALIDATORS["name"](kwargs["name"])
        # Authorization before the other parameters: a caller who may not see a repository
        # learns nothing about it, not even whether its tags or digests parse.
        _authorize(request, handler.required_access, kwargs.get("name"))
        validators = getattr(handler, "validators", {})
        for key in kwargs:
            if key != "name":
                kwargs[key] = validators.get(key, VALIDATORS[key])(kwargs[key])
        return handler(request, **kwargs)

    return view


def page_size(request: HttpRequest, maximum: int) -> int:
    """`n` as an int, `maximum` when absent or above it: the page is then shorter than asked
    and its `Link` leads on, which the spec allows. Not a number: 400 UNSUPPORTED."""
    value = request.GET.get("n")
    if value is None or value == "":
        return maximum
    if not (value.isascii() and value.isdigit()):  # str.isdigit() also takes "²" and "٣"
        raise PaginationNumberInvalid(detail={"n": value[:50]})
    return min(int(value), maximum)


def require_delete_enabled() -> None:
    if not settings.REGISTRY_DELETE_ENABLED:
        raise Unsupported("deletes are disabled on this registry")


def empty(status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(status=status)
    response["Content-Length"] = "0"
    for key, value in (headers or {}).items():
        response[key] = value
    return response
