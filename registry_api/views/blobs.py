"""GET / HEAD / DELETE /v2/<name>/blobs/<digest>: streamed reads with Range, unlinking."""
from __future__ import annotations

import logging

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse

from ..auth.access import has_access
from ..edge.http import CHUNK_SIZE, BoundedFile, UnsatisfiableRange, if_none_match, parse_range
from ..oci.errors import RangeNotSatisfiable
from ..services.blobs import blob_delete, blob_internal_location, blob_open, blob_redirect_url
from ..services.pull import BlobStream, blob_for_pull, blob_size_for_pull
from .common import empty, endpoint, require_delete_enabled, requires

logger = logging.getLogger(__name__)

# Blobs never change under a digest: let caches keep them.
IMMUTABLE_CACHE = "max-age=31536000"


def _headers(digest: str, size: int) -> dict[str, str]:
    return {
        "Docker-Content-Digest": digest,
        "ETag": f'"{digest}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": IMMUTABLE_CACHE,
        "Content-Length": str(size),
        "Content-Type": "application/octet-stream",
    }


def _not_modified(request: HttpRequest, digest: str) -> bool:
    return if_none_match(request.headers.get("If-None-Match", ""), f'"{digest}"')


def _may_push(request: HttpRequest, name: str) -> bool:
    """A caller who may push here may skip uploading a blob it saw and push a manifest naming
    it, so the link's grace period restarts (services/blobs.py `_refresh_link`)."""
    return has_access(request.registry_access, name, "push")


@requires("pull")
def _head(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """200 with size and digest, no body; 304; 404 BLOB_UNKNOWN / NAME_UNKNOWN."""
    size = blob_size_for_pull(route=request.registry_route, digest=digest, may_push=_may_push(request, name))
    status = 304 if _not_modified(request, digest) else 200
    return empty(status, _headers(digest, size))


@requires("pull")
def _get(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """200 whole blob; 206 a Range; 307 to the bucket; 304; 416 with `Content-Range: bytes
    */size`; 404. A proxy blob not cached yet is streamed whole (200) while it is fetched."""
    blob = blob_for_pull(route=request.registry_route, digest=digest, may_push=_may_push(request, name))
    if isinstance(blob, BlobStream):
        return _streamed(name, blob)
    size = blob.size
    headers = _headers(digest, size)
    if _not_modified(request, digest):
        return empty(304, headers)
    url = blob_redirect_url(blob=blob)
    if url is not None:
        # The client repeats its Range there; S3 answers 200/206/416 itself.
        logger.info("pull blob repository=%s digest=%s bytes=%d via=redirect", name, digest, size)
        return empty(307, {"Location": url, "Docker-Content-Digest": digest})
    status, start, length = 200, 0, size
    if "Range" in request.headers:
        try:
            byte_range = parse_range(request.headers["Range"], size)
        except UnsatisfiableRange:
            raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"}) from None
        if byte_range is not None:
            status, start, length = 206, byte_range.start, byte_range.length
            headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    location = blob_internal_location(blob=blob)
    if location is not None:
        # nginx sends the body (and applies the same Range); the request log and the
        # sent-bytes metric count what it will send, not our empty answer.
        request.registry_bytes_out = length
        logger.info("pull blob repository=%s digest=%s bytes=%d via=web-server", name, digest, length)
        return _served_by_web_server(location, headers)
    stream = blob_open(blob=blob, offset=start)
    response = FileResponse(BoundedFile(stream, length), status=status)
    response.block_size = CHUNK_SIZE
    for key, value in headers.items():
        response[key] = value
    # FileResponse measured "to end of file"; gunicorn's sendfile() sends this many bytes.
    response["Content-Length"] = str(length)
    logger.info("pull blob repository=%s digest=%s bytes=%d", name, digest, length)
    return response


def _streamed(name: str, stream: BlobStream) -> HttpResponse:
    """A blob arriving from upstream: no Range, no sendfile; Content-Length when known."""
    response = StreamingHttpResponse(stream.chunks, status=200)
    headers = _headers(stream.digest, stream.size or 0)
    if stream.size is None:
        del headers["Content-Length"]
    for key, value in headers.items():
        response[key] = value
    logger.info("pull blob repository=%s digest=%s bytes=%s via=upstream", name, stream.digest,
                stream.size if stream.size is not None else "?")
    return response


def _served_by_web_server(location: str, headers: dict[str, str]) -> HttpResponse:
    """Hand the body (and any Range) to nginx: it sends the file with sendfile, off our workers."""
    response = HttpResponse(status=200)
    for key, value in headers.items():
        if key not in ("Content-Length", "Content-Range"):  # nginx sets them from the file
            response[key] = value
    response["X-Accel-Redirect"] = location
    return response


@requires("delete")
def _delete(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """202 unlinked; 404 BLOB_UNKNOWN; 405 UNSUPPORTED when deletes are off."""
    require_delete_enabled()
    blob_delete(repository_name=name, digest=digest)
    return empty(202)


blob = endpoint(GET=_get, HEAD=_head, DELETE=_delete)
