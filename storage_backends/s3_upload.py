"""The S3 backend's upload writer (storage_backends/s3.py describes the session layout in
the bucket, and why no state stays in a process between requests). It works on the
S3Bucket of s3_bucket.py, which the backend extends, so it never imports the backend."""
from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

from .base import InvalidOffset, StorageError
from .common import READ_BLOCK
from .s3_bucket import S3Bucket, _ObjectReader, _Session
from .staged_upload import StagedUploadWriter


class S3UploadWriter(StagedUploadWriter):
    def __init__(
        self, storage: S3Bucket, upload_id: str, session: _Session, buffer: BinaryIO, hasher, algorithm: str,
    ) -> None:
        self._storage = storage
        self._upload_id = upload_id
        self._session = session
        self._buffer = buffer
        self._buffered = buffer.seek(0, io.SEEK_END)
        self._algorithm = algorithm
        self._hasher = hasher  # None once it no longer covers every staged byte
        self._dirty = False
        self._done = False
        # What the session was when this writer opened it, for `truncate` back to it.
        self._opened = (len(session.parts), self.size, hasher is not None)

    @property
    def size(self) -> int:
        return self._session.parts_size + self._buffered

    def write(self, chunk: bytes) -> None:
        if self._hasher is not None:
            self._hasher.update(chunk)
        view = memoryview(chunk)
        part_size = self._storage.config.part_size
        while view:
            if self._buffered >= part_size:
                self._send_part()
            take = view[: part_size - self._buffered]
            self._buffer.write(take)
            self._buffered += len(take)
            view = view[len(take):]
            self._dirty = True

    def truncate(self, size: int) -> None:
        """Back to `size`: anywhere within the bytes not yet sent as parts, or to where this
        writer opened the session (its parts and tail as S3 still holds them, since the
        tail is only rewritten on close). Refused chunks need no more than that."""
        if size < 0 or size > self.size:
            raise InvalidOffset(size)
        parts_size = self._session.parts_size
        if size >= parts_size:
            if size != self.size:
                self._buffer.truncate(size - parts_size)
                self._buffer.seek(0, io.SEEK_END)
                self._buffered = size - parts_size
                self._hasher = None
                self._dirty = True
            return
        opened_parts, opened_size, had_hasher = self._opened
        if size != opened_size:
            raise StorageError(f"cannot truncate to {size}: bytes before it were sent to S3 as parts")
        del self._session.parts[opened_parts:]
        self._buffer.seek(0)
        self._buffer.truncate()
        self._storage._read_tail(self._upload_id, self._buffer)
        self._buffered = self._buffer.seek(0, io.SEEK_END)
        self._hasher = hashlib.new(self._algorithm) if had_hasher and size == 0 else None
        self._dirty = False  # the tail in S3 is this state again

    def _send_part(self) -> None:
        storage, session = self._storage, self._session
        if session.multipart_id is None:
            session.multipart_id = storage._client.create_multipart_upload(
                Bucket=storage.bucket, Key=storage._data_key(self._upload_id)
            )["UploadId"]
        number = len(session.parts) + 1
        self._buffer.seek(0)
        response = storage._client.upload_part(
            Bucket=storage.bucket, Key=storage._data_key(self._upload_id), UploadId=session.multipart_id,
            PartNumber=number, Body=self._buffer, ContentLength=self._buffered,
        )
        session.parts.append({"PartNumber": number, "ETag": response["ETag"], "Size": self._buffered})
        self._buffer.seek(0)
        self._buffer.truncate()
        self._buffered = 0
        self._dirty = True

    def close(self) -> None:
        """Write the tail back (only if it changed), so the next request finds it."""
        if self._done:
            return
        self._done = True
        try:
            if self._dirty:
                self._buffer.seek(0)
                self._storage._client.put_object(
                    Bucket=self._storage.bucket, Key=self._storage._tail_key(self._upload_id),
                    Body=self._buffer, ContentLength=self._buffered,
                    Metadata={"parts": str(len(self._session.parts))},
                )
        finally:
            self._buffer.close()

    # -- committing (staged_upload.py) ---------------------------------------------------------
    def _sent_any(self) -> bool:
        return bool(self._session.parts)

    def _put_buffer(self, digest: str, size: int) -> None:
        storage = self._storage
        storage._client.put_object(Bucket=storage.bucket, Key=storage._blob_key(digest), Body=self._buffer, ContentLength=size)

    def _seal(self) -> str:
        """The buffer as the last part, then the multipart upload completed; its ETag."""
        if self._buffered:
            self._send_part()
        storage = self._storage
        response = storage._client.complete_multipart_upload(
            Bucket=storage.bucket, Key=storage._data_key(self._upload_id), UploadId=self._session.multipart_id,
            MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in self._session.parts]},
        )
        return response["ETag"]

    def _sealed_chunks(self, etag: str):
        storage = self._storage
        body = storage._client.get_object(Bucket=storage.bucket, Key=storage._data_key(self._upload_id), IfMatch=etag)["Body"]
        with _ObjectReader(body) as stream:
            while block := stream.read(READ_BLOCK):
                yield block

    def _copy_sealed(self, digest: str, size: int, etag: str) -> None:
        storage = self._storage
        storage._copy(storage._data_key(self._upload_id), storage._blob_key(digest), size, etag)
