"""GET / HEAD / DELETE /v2/<name>/blobs/<digest>: streamed reads with Range, unlinking."""
from __future__ import annotations

import logging

from django.http import FileResponse, HttpRequest, HttpResponse

from ..errors import RangeNotSatisfiable
from ..http import CHUNK_SIZE, BoundedFile, UnsatisfiableRange, parse_range
from ..services.blobs import blob_delete, blob_internal_location, blob_linked, blob_open, blob_redirect_url
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
    return f'"{digest}"' in request.headers.get("If-None-Match", "")


@requires("pull")
def _head(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """200 with size and digest, no body; 304; 404 BLOB_UNKNOWN / NAME_UNKNOWN."""
    blob = blob_linked(repository_name=name, digest=digest)
    status = 304 if _not_modified(request, digest) else 200
    return empty(status, _headers(digest, blob.size))


@requires("pull")
def _get(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """200 whole blob; 206 a Range; 307 to the bucket; 304; 416 with `Content-Range: bytes */size`; 404."""
    blob = blob_linked(repository_name=name, digest=digest)
    size = blob.size
    headers = _headers(digest, size)
    if _not_modified(request, digest):
        return empty(304, headers)
    url = blob_redirect_url(blob=blob)
    if url is not None:
        # The client repeats its Range there; S3 answers 200/206/416 itself.
        logger.info("pull blob repository=%s digest=%s bytes=%d via=redirect", name, digest, size)
        return empty(307, {"Location": url, "Docker-Content-Digest": digest})
    location = blob_internal_location(blob=blob)
    if location is not None:
        logger.info("pull blob repository=%s digest=%s bytes=%d via=web-server", name, digest, size)
        return _served_by_web_server(location, headers)
    status, start, length = 200, 0, size
    if "Range" in request.headers:
        try:
            byte_range = parse_range(request.headers["Range"], size)
        except UnsatisfiableRange:
            raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"}) from None
        if byte_range is not None:
            status, start, length = 206, byte_range.start, byte_range.length
            headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    stream = blob_open(blob=blob, offset=start)
    response = FileResponse(BoundedFile(stream, length), status=status)
    response.block_size = CHUNK_SIZE
    for key, value in headers.items():
        response[key] = value
    # FileResponse measured "to end of file"; gunicorn's sendfile() sends this many bytes.
    response["Content-Length"] = str(length)
    logger.info("pull blob repository=%s digest=%s bytes=%d", name, digest, length)
    return response


def _served_by_web_server(location: str, headers: dict[str, str]) -> HttpResponse:
    """Hand the body (and any Range) to nginx: it sends the file with sendfile, off our workers."""
    response = HttpResponse(status=200)
    for key, value in headers.items():
        if key != "Content-Length":  # nginx sets it from the file
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
