"""The Azure backend's upload writer (storage_backends/azure.py describes the
session layout in the container, and why no state stays in a process between requests).
It works on the AzureContainer of azure_container.py, which the backend extends, so it
never imports the backend."""
from __future__ import annotations

import io
import uuid
from typing import BinaryIO

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobBlock

from .azure_container import AzureContainer
from .base import InvalidOffset, StorageError, UploadNotFound
from .offload import off_the_loop
from .staged_upload import StagedUploadWriter


def block_id(offset: int, nonce: str) -> str:
    """Every block of a blob must have an id of the same length: the offset of its first byte
    in the session, and the writer's nonce (blocks staged by a request that died are never
    mistaken for this one's)."""
    return f"{offset:016d}-{nonce}"


class AzureUploadWriter(StagedUploadWriter):
    def __init__(
        self, storage: AzureContainer, upload_id: str, committed: list[tuple[str, int]], etag: str | None,
        buffer: BinaryIO, hasher, algorithm: str,
    ) -> None:
        self._storage = storage
        self._upload_id = upload_id
        self._blob = storage._session_blob(upload_id)
        self._committed = committed  # (block id, size): the session as this writer found it
        self._etag = etag  # of the session blob as found: a commit is refused if it changed
        self._staged: list[tuple[str, int]] = []  # blocks this writer sent, not yet committed
        self._buffer = buffer
        self._buffered = 0
        self._algorithm = algorithm
        self._hasher = hasher  # None once it no longer covers every staged byte
        self._opened_hasher = hasher.copy() if hasher is not None else None
        self._nonce = uuid.uuid4().hex[:8]
        self._dirty = False
        self._done = False

    @property
    def _opened_size(self) -> int:
        return sum(size for _, size in self._committed)

    @property
    def size(self) -> int:
        return self._opened_size + sum(size for _, size in self._staged) + self._buffered

    # -- writing ---------------------------------------------------------------------------
    def _append(self, data) -> None:
        """Into the local buffer, hashed: file work, on gevent's thread pool (offload.py)."""
        if self._hasher is not None:
            self._hasher.update(data)
        self._buffer.write(data)

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        block_size = self._storage.config.block_size
        while view:
            take = view[: block_size - self._buffered]
            off_the_loop(self._append, take)
            self._buffered += len(take)
            self._dirty = True
            view = view[len(take):]
            if self._buffered >= block_size:
                self._stage_buffer()

    def _stage_buffer(self) -> None:
        """The buffer as one uncommitted block of the session blob (the SDK's socket waits
        are gevent's: they do not hold up the loop)."""
        if not self._buffered:
            return
        identifier = block_id(self.size - self._buffered, self._nonce)
        self._buffer.seek(0)
        self._blob.stage_block(identifier, self._buffer, length=self._buffered)
        self._staged.append((identifier, self._buffered))
        self._buffer.seek(0)
        self._buffer.truncate()
        self._buffered = 0

    def truncate(self, size: int) -> None:
        """Back to `size`: within the bytes still in the buffer, to the end of a block this
        writer staged, or to where it opened the session. Blocks staged past it are never
        committed. A refused chunk needs no more than that."""
        if size < 0 or size > self.size:
            raise InvalidOffset(size)
        if size == self.size:
            return
        buffer_start = self.size - self._buffered
        self._hasher = None
        self._dirty = True
        if size >= buffer_start:
            self._buffer.truncate(size - buffer_start)
            self._buffer.seek(0, io.SEEK_END)
            self._buffered = size - buffer_start
            return
        end, keep = self._opened_size, 0
        while end < size and keep < len(self._staged):
            end += self._staged[keep][1]
            keep += 1
        if end != size:
            raise StorageError(f"cannot truncate to {size}: bytes before it were staged as one block")
        del self._staged[keep:]
        self._buffer.seek(0)
        self._buffer.truncate()
        self._buffered = 0
        if not keep:
            self._hasher = self._opened_hasher.copy() if self._opened_hasher is not None else None
            self._dirty = False  # the session blob holds this state already

    def _commit_blocks(self) -> str | None:
        """The session's block list as this writer leaves it, committed; the new ETag. Refused
        if another request changed or cancelled the session meanwhile."""
        self._stage_buffer()
        blocks = [BlobBlock(identifier) for identifier, _ in self._committed + self._staged]
        try:
            response = self._blob.commit_block_list(
                blocks, etag=self._etag, match_condition=MatchConditions.IfNotModified
            )
        except HttpResponseError as exc:
            if exc.status_code in (404, 412):
                raise UploadNotFound(self._upload_id) from None
            raise
        self._committed, self._staged, self._etag = self._committed + self._staged, [], response["etag"]
        self._dirty = False
        return self._etag

    def close(self) -> None:
        """Commit what this request staged, so the next request (anywhere) finds it."""
        if self._done:
            return
        self._done = True
        try:
            if self._dirty:
                self._commit_blocks()
            if self._hasher is not None:
                self._storage._hashers.put(self._upload_id, self.size, self._hasher)
        finally:
            self._buffer.close()

    # -- committing (staged_upload.py) ---------------------------------------------------------
    def _sent_any(self) -> bool:
        return bool(self._committed or self._staged)

    def _put_buffer(self, digest: str, size: int) -> None:
        self._storage._blob_client(digest).upload_blob(self._buffer, length=size, overwrite=True, max_concurrency=1)

    def _seal(self) -> str:
        return self._commit_blocks() if self._dirty else self._etag

    def _sealed_chunks(self, etag: str):
        downloader = self._blob.download_blob(
            etag=etag, match_condition=MatchConditions.IfNotModified, max_concurrency=1
        )
        return downloader.chunks()

    def _copy_sealed(self, digest: str, size: int, etag: str) -> None:
        self._storage._copy(self._blob, self._storage._blob_client(digest), etag)
