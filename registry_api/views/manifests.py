"""GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference> (a tag or a digest)."""
from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ..edge.http import BodyError, BodyTooLarge, if_none_match, read_small_body
from ..models import Manifest
from ..oci.errors import ManifestTooLarge, RegistryError, TagInvalid
from ..oci.reference import InvalidReference, is_digest_reference, validate_tag
from ..services.manifests import manifest_delete, manifest_put
from ..services.pull import manifest_for_pull, manifest_pull_note
from .common import empty, endpoint, lookup_reference, require_delete_enabled, requires, validates

logger = logging.getLogger(__name__)

# More tags than this in one PUT (?tag=a&tag=b…) is refused with 414, as the spec allows.
MAX_TAGS_PER_PUT = 100


def manifest_headers(manifest: Manifest) -> dict[str, str]:
    return {
        "Content-Type": manifest.media_type,
        "Content-Length": str(manifest.size),
        "Docker-Content-Digest": manifest.digest,
        "ETag": f'"{manifest.digest}"',
    }


def _read(request: HttpRequest, name: str, reference: str, with_body: bool) -> HttpResponse:
    route = request.registry_route  # hosted, a proxy cache or a group (services/routing.py)
    manifest = manifest_for_pull(route=route, reference=reference)
    if with_body:  # a GET, answered 200 or 304, is a pull; a HEAD only looks
        manifest_pull_note(route=route, manifest=manifest, reference=reference)
    headers = manifest_headers(manifest)
    if if_none_match(request.headers.get("If-None-Match", ""), headers["ETag"]):
        # A 304 may carry Content-Length only as the 200 would (RFC 9110 §8.6), never 0.
        return empty(304, headers)
    response = HttpResponse(bytes(manifest.payload) if with_body else b"", status=200)
    for key, value in headers.items():
        response[key] = value
    if with_body:
        log_pull(name, reference, manifest)
    return response


def log_pull(name: str, reference: str, manifest: Manifest) -> None:
    """The line of a manifest GET answered 200 (a 304 sends nothing, so it has none)."""
    logger.info("pull manifest repository=%s reference=%s digest=%s", name, reference, manifest.digest)


@requires("pull")
@validates(reference=lookup_reference)
def _get(request: HttpRequest, name: str, reference: str) -> HttpResponse:
    """200 with the exact stored bytes and their media type; 304 (If-None-Match with its
    digest, or `*`); 404 MANIFEST/NAME_UNKNOWN (also for a reference that cannot exist)."""
    return _read(request, name, reference, with_body=True)


@requires("pull")
@validates(reference=lookup_reference)
def _head(request: HttpRequest, name: str, reference: str) -> HttpResponse:
    """200 with the GET's headers and no body; 404."""
    return _read(request, name, reference, with_body=False)


def _extra_tags(request: HttpRequest) -> list[str]:
    tags = request.GET.getlist("tag")
    if len(tags) > MAX_TAGS_PER_PUT:
        raise TagInvalid(f"at most {MAX_TAGS_PER_PUT} tags per request", status=414)
    for tag in tags:
        try:
            validate_tag(tag)
        except InvalidReference:
            raise TagInvalid(detail={"tag": tag[:300]}) from None
    return tags


@requires("push")
def _put(request: HttpRequest, name: str, reference: str) -> HttpResponse:
    """201 with Location, Docker-Content-Digest, OCI-Subject and one OCI-Tag per tag;
    400 MANIFEST_INVALID (also for an invalid tag) / MANIFEST_BLOB_UNKNOWN / DIGEST_INVALID;
    413; 414."""
    extra_tags = _extra_tags(request) if is_digest_reference(reference) else []
    limit = settings.REGISTRY_MANIFEST_MAX_BYTES
    try:
        payload = read_small_body(request, limit)
    except BodyTooLarge:
        raise ManifestTooLarge(f"manifest larger than {limit} bytes") from None
    except BodyError as exc:
        raise RegistryError(str(exc), code="SIZE_INVALID") from None
    result = manifest_put(
        repository_name=name, reference=reference, payload=payload,
        content_type=request.content_type or "", extra_tags=extra_tags,
    )
    response = empty(201, {
        "Location": f"/v2/{name}/manifests/{result.manifest.digest}",
        "Docker-Content-Digest": result.manifest.digest,
    })
    if result.subject:
        response["OCI-Subject"] = result.subject
    if extra_tags:
        response.headers["OCI-Tag"] = ", ".join(result.tags)
    return response


@requires("delete")
@validates(reference=lookup_reference)
def _delete(request: HttpRequest, name: str, reference: str) -> HttpResponse:
    """202 deleted (a tag, or a manifest with its tags); 404 (also for a reference that
    cannot exist); 405 when deletes are off."""
    require_delete_enabled()
    manifest_delete(repository_name=name, reference=reference)
    return empty(202)


manifest = endpoint(GET=_get, HEAD=_head, PUT=_put, DELETE=_delete)
