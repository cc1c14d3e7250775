"""What every backend shares: digests and session ids as key names, and hashing a stream.

A digest or an upload id becomes part of a path or an object key only through these
functions, which accept exactly the grammar and nothing else (no "..", no trailing newline).
"""
from __future__ import annotations

import hashlib
import io
import re
import threading
import uuid
from collections import OrderedDict
from typing import BinaryIO

from .base import BlobNotFound, UploadNotFound

DIGEST_RE = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
READ_BLOCK = 1024 * 1024


def blob_relative_key(digest: str) -> str:
    """`sha256/ab/abcdef…`: where a blob lives below the blobs area; BlobNotFound if the
    digest is malformed (`fullmatch`: `match` would let a trailing "\\n" through)."""
    if not DIGEST_RE.fullmatch(digest):
        raise BlobNotFound(digest)
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}/{hexpart[:2]}/{hexpart}"


def digest_from_relative_key(key: str) -> str | None:
    """The inverse of `blob_relative_key`, None for anything that is not a blob's key."""
    parts = key.split("/")
    if len(parts) != 3:
        return None
    algorithm, fanout, hexpart = parts
    digest = f"{algorithm}:{hexpart}"
    if not DIGEST_RE.fullmatch(digest) or fanout != hexpart[:2]:
        return None
    return digest


def canonical_upload_id(upload_id: str) -> str:
    """The session id in canonical UUID form; UploadNotFound for anything else."""
    try:
        canonical = str(uuid.UUID(upload_id))
    except (ValueError, TypeError, AttributeError):
        raise UploadNotFound(upload_id) from None
    return canonical


def is_canonical_upload_id(name: str) -> bool:
    try:
        return canonical_upload_id(name) == name
    except UploadNotFound:
        return False


def hash_stream(stream: BinaryIO, algorithm: str) -> str:
    """The digest of everything left in `stream`, read one block at a time."""
    hasher = hashlib.new(algorithm)
    while block := stream.read(READ_BLOCK):
        hasher.update(block)
    return f"{algorithm}:{hasher.hexdigest()}"


class HasherCache:
    """Running hashers of uploads whose last chunk this process received, each with the
    staged size it covers.

    hashlib state cannot be saved portably, so a chunk that lands in another process
    makes that process re-hash the staged bytes once at commit; in the common case
    (one client connection, one worker) the bytes are hashed exactly once, in flight.
    A session's staged bytes only grow (a refused chunk is cut off again), so a hasher
    that covers as many bytes as are staged covers exactly those bytes.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[int, "hashlib._Hash"]] = OrderedDict()
        self._capacity = capacity

    def take(self, upload_id: str, offset: int):
        with self._lock:
            item = self._items.pop(upload_id, None)
        if item is not None and item[0] == offset:
            return item[1]
        return None

    def put(self, upload_id: str, offset: int, hasher) -> None:
        with self._lock:
            self._items[upload_id] = (offset, hasher)
            self._items.move_to_end(upload_id)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def drop(self, upload_id: str) -> None:
        with self._lock:
            self._items.pop(upload_id, None)


class BodyReader(io.RawIOBase):
    """A store's response body (a GET's, a download's) as a binary stream, read in the
    caller's blocks; no fileno, so gunicorn iterates it instead of trying sendfile().
    `read_all` is what the body's own read() takes for "everything left"."""

    def __init__(self, body, read_all: int | None = None) -> None:
        self._body = body
        self._read_all = read_all

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._body.read(size if size is not None and size >= 0 else self._read_all)

    def readinto(self, buffer) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed and hasattr(self._body, "close"):
            self._body.close()
        super().close()
