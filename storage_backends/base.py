"""The blob storage protocol: content addressed by digest, streamed both ways.

There is deliberately no "read a whole blob" method: every read is a stream with an offset.
Backends raise the typed errors below; the registry turns them into OCI errors.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal, Protocol


class StorageError(Exception):
    """Base of every error a backend raises."""


class BlobNotFound(StorageError):
    pass


class UploadNotFound(StorageError):
    pass


class InvalidOffset(StorageError):
    pass


class DigestMismatch(StorageError):
    """The bytes written do not hash to the digest the client claimed."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"expected {expected}, content hashes to {actual}")
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class BlobInfo:
    size: int


@dataclass(frozen=True)
class StoredItem:
    """One entry of `walk`: a blob (name = its digest) or an upload session (name = its id)."""

    name: str
    size: int
    # POSIX time of the last write: housekeeping leaves recent entries alone.
    modified_at: float


class UploadWriter(Protocol):
    """An append-only staging area for one upload session."""

    @property
    def size(self) -> int: ...

    def write(self, chunk: bytes) -> None: ...

    def truncate(self, size: int) -> None:
        """Drop what was staged after the first `size` bytes (a refused chunk must not stay);
        InvalidOffset if `size` is negative or past the end."""

    def commit(self, expected_digest: str) -> BlobInfo:
        """Verify the content against `expected_digest` and make it readable under it.

        On mismatch raise DigestMismatch and leave nothing behind. Committing content that
        already exists succeeds and keeps one copy.
        """

    def close(self) -> None:
        """Release the writer; the staged bytes stay for a later `resume_upload`."""

    def cancel(self) -> None:
        """Drop the staged bytes."""


class BlobStorage(Protocol):
    @classmethod
    def from_settings(cls, settings) -> "BlobStorage": ...

    def check(self) -> None:
        """Raise if the backend cannot serve (unwritable directory, unreachable bucket)."""

    def open(self, digest: str, offset: int = 0) -> BinaryIO:
        """A binary stream of the blob positioned at `offset`; BlobNotFound if absent."""

    def stat(self, digest: str) -> BlobInfo | None: ...

    def delete(self, digest: str) -> None: ...

    def start_upload(self, upload_id: str, algorithm: str = "sha256") -> UploadWriter:
        """A new staging area. `algorithm` is the digest the client announced it will commit
        with (`?digest-algorithm=`): a hint for hashing in flight; commit verifies any."""

    def resume_upload(self, upload_id: str, algorithm: str = "sha256") -> UploadWriter:
        """Reopen a session's staged bytes, possibly in another process; UploadNotFound if gone."""

    def upload_size(self, upload_id: str) -> int:
        """Bytes staged so far; UploadNotFound if the session has no staging area."""

    def cancel_upload(self, upload_id: str) -> None: ...

    # Optional (`getattr(storage, "open_upload", None)`): a backend that cannot read staged
    # bytes leaves it out, and a proxy pull waiting for another's fetch then waits for the
    # commit instead of following the bytes as they arrive (registry_api/proxy/blobs.py).
    def open_upload(self, upload_id: str) -> BinaryIO:
        """A stream of the bytes a session has staged so far, which may still be growing;
        reading on after the session commits yields the committed content. UploadNotFound
        if the session has no staging area."""

    def redirect_url(self, digest: str) -> str | None:
        """Where clients may fetch the blob directly, or None to stream it through us."""

    def walk(self, area: Literal["blobs", "uploads"]) -> Iterator[StoredItem]:
        """Everything stored in one area, in no particular order, for housekeeping (fsck,
        upload purge, backup): the only way to find bytes the database does not know."""
