"""Content-addressed blob storage in an S3-compatible bucket, through boto3.

Keys below the configured prefix:

    blobs/
      sha256/ab/abcdef0123…     one object per blob, named by its digest, immutable
    uploads/
      <uuid>/
        tail                    bytes staged after the last full part (at most one part);
                                exists exactly as long as the session (its marker); user
                                metadata `parts` = how many parts precede these bytes
        data                    the session's S3 multipart upload of its full parts; an
                                object only for the moment a commit verifies and copies it

No state stays in a process between requests: a writer rebuilds it from S3 (the `tail`
object, ListMultipartUploads and ListParts under the session's prefix), so any instance may
continue a session, and its size is the first `parts` parts' sizes plus the tail's. While a
request streams, bytes are buffered in a temporary file on local disk (never in memory) and
each full part is sent as it fills; the tail is written back when the request ends, and
only then do the parts the request sent count. A request that died before that, or whose
chunk was refused (`truncate` back to where it started), leaves the session as it was:
parts numbered past the tail's `parts` are ignored, and overwritten by the next request
(S3 keeps the last upload of a part number; completion names the parts it keeps).

Commit: the buffer becomes the last part, the multipart upload is completed into `data`,
and its digest is checked: in flight when one writer received every byte, otherwise by
streaming `data` back. Then `data` is copied server-side to the blob's key (CopyObject, or
boto3's managed multipart copy above 5 GiB), only if its ETag is still the one hashed, and
the session's objects go. Content that never filled a part is verified in the local buffer
and put straight under its key. A mismatch deletes the session: nothing is left behind.
"""
from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO, Literal

from botocore.exceptions import ClientError

# DigestMismatch is re-exported for callers that catch it from here.
from .base import BlobInfo, BlobNotFound, DigestMismatch, InvalidOffset, StorageError, StoredItem, UploadNotFound  # noqa: F401
from .common import READ_BLOCK, digest_from_relative_key, is_canonical_upload_id
from .s3_bucket import S3Bucket, _ObjectReader, _Session
from .s3_config import COPY_THRESHOLD, MIN_PART_SIZE, REDIRECT_EXPIRES, MiB, S3Config, _missing, _status
from .s3_upload import S3UploadWriter

__all__ = ["COPY_THRESHOLD", "MIN_PART_SIZE", "MiB", "S3Config", "S3Storage", "S3UploadWriter"]

class S3Storage(S3Bucket):
    """The storage protocol over an S3Bucket (s3_bucket.py: the client, the keys, `stat`,
    `cancel_upload`)."""

    @classmethod
    def from_settings(cls, settings) -> "S3Storage":
        config = S3Config.from_settings(settings)
        if config.problems():
            raise StorageError("; ".join(config.problems()))
        return cls(config)

    def check(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            raise StorageError(f"bucket {self.bucket} is not usable (HTTP {_status(exc)})") from None

    # -- blobs ---------------------------------------------------------------------------
    def open(self, digest: str, offset: int = 0) -> BinaryIO:
        key = self._blob_key(digest)
        if offset < 0:
            raise InvalidOffset(offset)
        try:
            # A Range GET: the body streams from `offset`, never held whole.
            response = self._client.get_object(Bucket=self.bucket, Key=key, **({"Range": f"bytes={offset}-"} if offset else {}))
        except ClientError as exc:
            if _missing(exc):
                raise BlobNotFound(digest) from None
            if _status(exc) != 416:
                raise
            info = self.stat(digest)  # S3 refuses a range starting at the end; we answer b""
            if info is None:
                raise BlobNotFound(digest) from None
            if offset != info.size:
                raise InvalidOffset(offset) from None
            return io.BytesIO()
        return _ObjectReader(response["Body"])

    def delete(self, digest: str) -> None:
        if self.stat(digest) is None:  # DeleteObject succeeds on a missing key
            raise BlobNotFound(digest)
        self._client.delete_object(Bucket=self.bucket, Key=self._blob_key(digest))

    def redirect_url(self, digest: str) -> str | None:
        if not self.config.redirect:
            return None
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._blob_key(digest)}, ExpiresIn=REDIRECT_EXPIRES
        )

    # -- housekeeping ----------------------------------------------------------------------
    def walk(self, area: Literal["blobs", "uploads"]) -> Iterator[StoredItem]:
        if area == "blobs":
            root = f"{self._prefix}blobs/"
            for obj in self._objects(root):
                digest = digest_from_relative_key(obj["Key"][len(root):])
                if digest is not None:
                    yield StoredItem(digest, obj["Size"], obj["LastModified"].timestamp())
        elif area == "uploads":
            yield from self._walk_uploads()
        else:
            raise ValueError(f"unknown storage area {area!r}")

    def _walk_uploads(self) -> Iterator[StoredItem]:
        """Sessions with their staged bytes (objects and parts) and their last write."""
        root = f"{self._prefix}uploads/"
        sessions: dict[str, list[float]] = {}
        for obj in self._objects(root):
            name = obj["Key"][len(root):].split("/", 1)[0]
            entry = sessions.setdefault(name, [0, 0.0])
            entry[0] += obj["Size"]
            entry[1] = max(entry[1], obj["LastModified"].timestamp())
        for upload in self._multipart_uploads(root):
            name = upload["Key"][len(root):].split("/", 1)[0]
            entry = sessions.setdefault(name, [0, upload["Initiated"].timestamp()])
            for part in self._parts(upload["Key"], upload["UploadId"]):
                entry[0] += part["Size"]
                entry[1] = max(entry[1], part["LastModified"].timestamp())
        for name, (size, modified_at) in sessions.items():
            if is_canonical_upload_id(name):
                yield StoredItem(name, int(size), modified_at)

    # -- uploads ---------------------------------------------------------------------------
    def _buffer(self) -> BinaryIO:
        """A part buffer on local disk, removed as soon as it is closed."""
        return tempfile.TemporaryFile(dir=self.config.buffer_dir, prefix="s3-part-")

    def _load(self, upload_id: str, buffer: BinaryIO | None = None) -> _Session:
        """The session as S3 holds it; with `buffer`, the tail's bytes are copied into it."""
        tail_key = self._tail_key(upload_id)
        try:
            if buffer is None:
                tail = self._client.head_object(Bucket=self.bucket, Key=tail_key)
            else:
                tail = self._client.get_object(Bucket=self.bucket, Key=tail_key)
        except ClientError as exc:
            if _missing(exc):
                raise UploadNotFound(upload_id) from None
            raise
        data_key = self._data_key(upload_id)
        uploads = sorted((u for u in self._multipart_uploads(data_key) if u["Key"] == data_key), key=lambda u: u["Initiated"])
        session = _Session(multipart_id=uploads[0]["UploadId"] if uploads else None)
        if session.multipart_id:
            session.parts = [
                {"PartNumber": p["PartNumber"], "ETag": p["ETag"], "Size": p["Size"]}
                for p in self._parts(data_key, session.multipart_id)
            ]
        recorded = int(tail.get("Metadata", {}).get("parts", "0"))
        # Parts past `recorded` were sent by a request that died or was refused before it
        # wrote the tail: not part of the session (the next request overwrites them).
        session.parts = session.parts[:recorded]
        if len(session.parts) < recorded or [p["PartNumber"] for p in session.parts] != list(range(1, recorded + 1)):
            if buffer is not None:
                tail["Body"].close()
            raise UploadNotFound(upload_id)  # parts lost (aborted meanwhile): the session is gone
        session.tail_size = tail["ContentLength"]
        if buffer is not None:
            with _ObjectReader(tail["Body"]) as body:
                shutil.copyfileobj(body, buffer, READ_BLOCK)
        return session

    def start_upload(self, upload_id: str, algorithm: str = "sha256") -> S3UploadWriter:
        self._client.put_object(Bucket=self.bucket, Key=self._tail_key(upload_id), Body=b"", Metadata={"parts": "0"})
        return S3UploadWriter(
            self, upload_id, _Session(multipart_id=None), self._buffer(), hashlib.new(algorithm), algorithm
        )

    def resume_upload(self, upload_id: str, algorithm: str = "sha256") -> S3UploadWriter:
        buffer = self._buffer()
        try:
            session = self._load(upload_id, buffer)
        except BaseException:
            buffer.close()
            raise
        empty = session.parts_size + session.tail_size == 0
        return S3UploadWriter(self, upload_id, session, buffer, hashlib.new(algorithm) if empty else None, algorithm)

    def upload_size(self, upload_id: str) -> int:
        session = self._load(upload_id)
        return session.parts_size + session.tail_size

