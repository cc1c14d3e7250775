"""What the S3 and Azure upload writers share: a session whose bytes sit in a local buffer
until they fill a part (S3) or a block (Azure) sent to the cloud, and a commit that verifies
the digest before the blob appears under its name.

A session that never filled a part is verified from the buffer and put in one request; one
that did is sealed (multipart completed, block list committed), verified in flight or by
reading the sealed object back, then copied server-side. Either way the session goes after.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import BinaryIO

from .base import BlobInfo, DigestMismatch
from .common import hash_stream
from .offload import off_the_loop


class StagedUploadWriter:
    """Subclasses set `_storage`, `_upload_id`, `_buffer`, `_algorithm`, `_hasher` (None once
    it no longer covers every staged byte) and `_done`, and say how to reach the cloud."""

    _storage: object
    _upload_id: str
    _buffer: BinaryIO
    _algorithm: str
    _done: bool

    # -- what each cloud does ------------------------------------------------------------------
    @property
    def size(self) -> int:
        raise NotImplementedError

    def _sent_any(self) -> bool:
        """Whether bytes already left the buffer as parts or blocks."""
        raise NotImplementedError

    def _put_buffer(self, digest: str, size: int) -> None:
        """The buffer (positioned at 0) stored as the blob `digest`, in one request."""
        raise NotImplementedError

    def _seal(self) -> str:
        """Everything staged made one object in the session area; its ETag."""
        raise NotImplementedError

    def _sealed_chunks(self, etag: str) -> Iterable[bytes]:
        """The sealed session object as it stands at `etag`, streamed."""
        raise NotImplementedError

    def _copy_sealed(self, digest: str, size: int, etag: str) -> None:
        """The sealed session object (at `etag`) copied server-side to the blob `digest`."""
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------------
    def commit(self, expected_digest: str) -> BlobInfo:
        storage, size = self._storage, self.size
        algorithm = expected_digest.partition(":")[0]
        self._done = True
        try:
            if not self._sent_any():
                self._verify(expected_digest, self._buffer_digest(algorithm))
                if storage.stat(expected_digest) is None:
                    self._buffer.seek(0)
                    self._put_buffer(expected_digest, size)
            else:
                etag = self._seal()
                self._verify(expected_digest, self._staged_digest(algorithm, etag))
                if storage.stat(expected_digest) is None:
                    self._copy_sealed(expected_digest, size, etag)
        finally:
            self._buffer.close()
        storage.cancel_upload(self._upload_id)
        return BlobInfo(size=size)

    def _in_flight_digest(self, algorithm: str) -> str | None:
        if self._hasher is not None and algorithm == self._algorithm:
            return f"{algorithm}:{self._hasher.hexdigest()}"
        return None

    def _buffer_digest(self, algorithm: str) -> str:
        if (digest := self._in_flight_digest(algorithm)) is not None:
            return digest
        self._buffer.seek(0)
        return off_the_loop(hash_stream, self._buffer, algorithm)

    def _staged_digest(self, algorithm: str, etag: str) -> str:
        """In flight when this process saw every byte, else streamed back from the sealed
        object as it stands at `etag` (the one the copy will take)."""
        if (digest := self._in_flight_digest(algorithm)) is not None:
            return digest
        hasher = hashlib.new(algorithm)
        for chunk in self._sealed_chunks(etag):
            hasher.update(chunk)
        return f"{algorithm}:{hasher.hexdigest()}"

    def _verify(self, expected: str, actual: str) -> None:
        if actual != expected:
            self._storage.cancel_upload(self._upload_id)
            raise DigestMismatch(expected, actual)

    def cancel(self) -> None:
        self._done = True
        self._buffer.close()
        self._storage.cancel_upload(self._upload_id)
