"""HTTP details of the registry protocol: streamed request bodies, ranges, pagination links,
and the OCI error envelope as a response.

Request bodies are never read through `request.body`: blob bodies can be gigabytes, and
Django under WSGI reads a `Transfer-Encoding: chunked` body (docker's PATCH) as empty.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse

from ..oci.errors import RegistryError, envelope

CHUNK_SIZE = 1024 * 1024

_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?([0-9]+)-([0-9]+)$")
_RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")


class BodyError(Exception):
    """The client sent fewer bytes than it announced, or the connection broke."""


class BodyTooLarge(Exception):
    pass


def declared_length(request: HttpRequest) -> int | None:
    """The Content-Length header, or None when absent (chunked) or malformed."""
    value = request.META.get("CONTENT_LENGTH") or ""
    if value.isascii() and value.isdigit():
        return int(value)
    return None


def is_chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def iter_body(request: HttpRequest, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes | memoryview]:
    """Yield the request body in chunks of up to `chunk_size` bytes, whatever its framing.

    A chunk is valid until the next one is asked for: a body of declared length is received
    into one buffer, reused for every chunk, when the server's input offers readinto()
    (registry_project/gunicorn_worker.py), instead of copied into new bytes each time. With a
    Content-Length, a short body raises BodyError. Without one but chunked, the WSGI input
    (de-chunked by gunicorn) is read to its end.
    """
    length = declared_length(request)
    if length is None and is_chunked(request):
        yield from _read_chunks(request, request.META["wsgi.input"], None, chunk_size)
        return
    readinto = getattr(request.META.get("wsgi.input"), "readinto", None)
    if readinto is not None and length and not getattr(request, "_read_started", False):
        request._read_started = True  # as Django marks a stream it has begun to read
        yield from _receive_chunks(request, readinto, length, chunk_size)
    else:
        yield from _read_chunks(request, request, length or 0, chunk_size)


def _read_chunks(request, stream, remaining: int | None, chunk_size: int) -> Iterator[bytes]:
    while remaining is None or remaining > 0:
        want = chunk_size if remaining is None else min(chunk_size, remaining)
        try:
            chunk = stream.read(want)
        except Exception as exc:  # the server's reader raises its own types on a broken stream
            raise BodyError("request body could not be read") from exc
        if not chunk:
            if remaining:
                raise BodyError(f"body ended {remaining} bytes short of Content-Length")
            return
        if remaining is not None:
            remaining -= len(chunk)
        _count_in(request, len(chunk))
        yield chunk


def _receive_chunks(request, readinto, remaining: int, chunk_size: int) -> Iterator[memoryview]:
    """`remaining` bytes in chunks of `chunk_size`, each filled whole (but the last)
    before it is handed on, so storage writes and hashes as large pieces as with read()."""
    buffer = memoryview(bytearray(min(chunk_size, remaining)))
    while remaining > 0:
        want, filled = min(len(buffer), remaining), 0
        while filled < want:
            try:
                count = readinto(buffer[filled:want])
            except Exception as exc:
                raise BodyError("request body could not be read") from exc
            if not count:
                raise BodyError(f"body ended {remaining - filled} bytes short of Content-Length")
            filled += count
        remaining -= filled
        _count_in(request, filled)
        yield buffer[:filled]


def _count_in(request, count: int) -> None:
    """Counted for the request log and the bytes-in metric."""
    request.registry_bytes_in = getattr(request, "registry_bytes_in", 0) + count


def read_small_body(request: HttpRequest, limit: int) -> bytes:
    """Read a body that must be small (manifests) whole, refusing more than `limit` bytes."""
    length = declared_length(request)
    if length is not None and length > limit:
        raise BodyTooLarge(length)
    parts: list[bytes] = []
    total = 0
    for chunk in iter_body(request, chunk_size=min(CHUNK_SIZE, limit + 1)):
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(total)
        parts.append(bytes(chunk))  # the chunk's buffer is reused for the next one
    return b"".join(parts)


def parse_content_range(value: str) -> tuple[int, int] | None:
    """Parse a chunk's `Content-Range: <start>-<end>` (inclusive); None if malformed."""
    match = _CONTENT_RANGE_RE.match(value.strip())
    if not match:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        return None
    return start, end


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class UnsatisfiableRange(Exception):
    pass


def parse_range(value: str, size: int) -> ByteRange | None:
    """Parse a single-range `Range: bytes=a-b` header against a blob of `size` bytes.

    Returns None when the header should be ignored (malformed or several ranges: RFC 9110
    lets a server answer those with the whole body), raises UnsatisfiableRange for 416.
    """
    match = _RANGE_RE.match(value.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None
        if start >= size:
            raise UnsatisfiableRange()
    else:  # suffix range: the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise UnsatisfiableRange()
        if size == 0:
            return None  # nothing to select from: answer the whole (empty) body
        start, end = max(size - suffix, 0), size - 1
    return ByteRange(start, end)


class BoundedFile:
    """A file positioned at a range start that reads no further than the range end.

    It keeps `fileno()` so gunicorn's sendfile() serves it zero-copy from the current
    offset for Content-Length bytes; under other servers the bounded `read` applies.
    """

    def __init__(self, f, length: int) -> None:
        self._f = f
        self._remaining = length

    def fileno(self) -> int:
        return self._f.fileno()

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        if size < 0 or size > self._remaining:
            size = self._remaining
        data = self._f.read(size)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._f.close()


def file_size(f) -> int:
    return os.fstat(f.fileno()).st_size


def if_none_match(header: str, etag: str) -> bool:
    """Whether an `If-None-Match` value matches `etag` (a quoted entity tag): `*` matches
    anything that exists, and the comparison is weak, so `W/"x"` matches `"x"` (RFC 9110
    §13.1.2). Answered with 304 on GET and HEAD."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def next_link(path: str, n: int, last: str, **extra: str) -> str:
    """An RFC 5988 `Link` header value for the next page."""
    query = urlencode({**extra, "n": n, "last": last})
    return f'<{path}?{query}>; rel="next"'


def error_response(errors: list[RegistryError]) -> HttpResponse:
    """Render the envelope; the first error's status is the response status."""
    first = errors[0]
    response = HttpResponse(envelope(errors), status=first.status, content_type="application/json; charset=utf-8")
    for header, value in first.headers.items():
        response[header] = value
    return response
