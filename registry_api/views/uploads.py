"""Blob uploads: POST /v2/<name>/blobs/uploads/ and PATCH/PUT/GET/DELETE on the session.

Bodies are streamed to storage through `http.iter_body` in 1 MiB chunks, whatever their
framing (docker sends chunked PATCHes without Content-Length or Content-Range).
"""
from __future__ import annotations

from functools import partial

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ..auth.access import has_access
from ..auth.permissions import visible_repositories
from ..edge.http import declared_length, iter_body, parse_content_range
from ..models import Upload
from ..oci.errors import BlobUploadInvalid, ChunkOutOfOrder, DigestInvalid
from ..oci.reference import InvalidReference, validate_name
from ..services import uploads as service
from .common import empty, endpoint, requires, validate_digest


def _location(upload: Upload) -> str:
    return f"/v2/{upload.repository_name}/blobs/uploads/{upload.id}"


def _session_headers(upload: Upload, size: int) -> dict[str, str]:
    return {
        "Location": _location(upload),
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": str(upload.id),
        "OCI-Chunk-Min-Length": str(settings.REGISTRY_CHUNK_MIN_LENGTH),
    }


def _created(name: str, digest: str) -> HttpResponse:
    return empty(201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest})


def _content_range(request: HttpRequest) -> tuple[int, int] | None:
    value = request.headers.get("Content-Range")
    if value is None:
        return None
    parsed = parse_content_range(value)
    if parsed is None:
        raise BlobUploadInvalid("malformed Content-Range", detail={"Content-Range": value[:100]})
    return parsed


def _mount_source(request: HttpRequest) -> str | None:
    """The `from` repository, if valid and readable by the caller; else no mount is tried
    (a normal upload starts, and nothing says whether the blob exists there)."""
    source = request.GET.get("from", "")
    try:
        validate_name(source)
    except InvalidReference:
        return None
    return source if has_access(request.registry_access, source, "pull") else None


def _readable(request: HttpRequest):
    """The caller's pullable repositories, for the quota check (computed only if needed)."""
    return partial(visible_repositories, request.registry_access.identity)


@requires("push")
def _start(request: HttpRequest, name: str) -> HttpResponse:
    """201 after a mount or a single-POST upload; 202 with a new session; 400 DIGEST_INVALID;
    400 UNSUPPORTED for a `digest-algorithm` we cannot verify."""
    algorithm = service.digest_algorithm_check(request.GET.get("digest-algorithm", "sha256"))
    if "mount" in request.GET:
        digest = validate_digest(request.GET["mount"])
        source = _mount_source(request)
        if source and service.blob_mount(
            repository_name=name, digest=digest, from_name=source, readable=_readable(request)
        ):
            return _created(name, digest)
    elif "digest" in request.GET:
        digest = validate_digest(request.GET["digest"])
        service.upload_monolithic(
            repository_name=name, digest=digest, chunks=iter_body(request),
            declared_length=declared_length(request), readable=_readable(request),
        )
        return _created(name, digest)
    upload = service.upload_start(repository_name=name, digest_algorithm=algorithm)
    return empty(202, _session_headers(upload, 0))


@requires("push")
def _patch(request: HttpRequest, name: str, upload_id: str) -> HttpResponse:
    """202 with the new Range; 416 for a chunk out of order; 404 BLOB_UPLOAD_UNKNOWN."""
    upload = service.upload_get(repository_name=name, upload_id=upload_id)
    try:
        size = service.upload_append(
            upload=upload, chunks=iter_body(request), content_range=_content_range(request),
            declared_length=declared_length(request),
        )
    except ChunkOutOfOrder as exc:
        exc.headers.update(Location=_location(upload), **{"Docker-Upload-UUID": str(upload.id)})
        raise
    return empty(202, _session_headers(upload, size))


@requires("push")
def _put(request: HttpRequest, name: str, upload_id: str) -> HttpResponse:
    """201 once the digest matches; 400 DIGEST_INVALID / SIZE_INVALID; 416; 404."""
    upload = service.upload_get(repository_name=name, upload_id=upload_id)
    if "digest" not in request.GET:
        raise DigestInvalid("the digest query parameter is required")
    digest = validate_digest(request.GET["digest"])
    try:
        service.upload_commit(
            upload=upload, digest=digest, chunks=iter_body(request),
            content_range=_content_range(request), declared_length=declared_length(request),
            readable=_readable(request),
        )
    except ChunkOutOfOrder as exc:
        exc.headers.update(Location=_location(upload), **{"Docker-Upload-UUID": str(upload.id)})
        raise
    return _created(name, digest)


@requires("push")
def _status(request: HttpRequest, name: str, upload_id: str) -> HttpResponse:
    """204 with `Range: 0-<end>`; 404 BLOB_UPLOAD_UNKNOWN."""
    upload = service.upload_get(repository_name=name, upload_id=upload_id)
    return empty(204, _session_headers(upload, service.upload_size(upload=upload)))


@requires("push")
def _cancel(request: HttpRequest, name: str, upload_id: str) -> HttpResponse:
    """204 cancelled; 404 BLOB_UPLOAD_UNKNOWN."""
    upload = service.upload_get(repository_name=name, upload_id=upload_id)
    service.upload_cancel(upload=upload)
    return empty(204)


upload_start = endpoint(POST=_start)
upload_session = endpoint(PATCH=_patch, PUT=_put, GET=_status, DELETE=_cancel)
