"""GET /v2/: the API version check every client makes first."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect, JsonResponse

from ..oci.errors import RegistryError
from .common import endpoint, requires


@requires("signed-in")
def _get(request: HttpRequest) -> JsonResponse:
    """200 `{}`; the version header is added by the middleware."""
    return JsonResponse({})


@requires("nothing")
def _to_version_check(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """301 to /v2/, as the reference registry answers `/v2` (a redirect reveals nothing, so
    no credentials are asked); other methods get /v2/'s 405 UNSUPPORTED."""
    return HttpResponsePermanentRedirect("/v2/")


@requires("nothing")
def _not_found(request: HttpRequest, path: str = ""):
    raise RegistryError("unknown API endpoint", code="UNSUPPORTED", status=404)


version_check = endpoint(GET=_get, HEAD=_get)
version_redirect = endpoint(GET=_to_version_check, HEAD=_to_version_check)
unknown_endpoint = endpoint(**{m: _not_found for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")})
