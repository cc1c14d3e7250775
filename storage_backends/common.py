"""What every backend shares: digests and session ids as key names, and hashing a stream.

A digest or an upload id becomes part of a path or an object key only through these
functions, which accept exactly the grammar and nothing else (no "..", no trailing newline).
"""
from __future__ import annotations

import hashlib
import re
import uuid
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
