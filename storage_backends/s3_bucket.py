"""The bucket as the S3 backend and its upload writer both use it: the client, the keys
(derived only from validated values), listings, and the object operations a commit needs.

storage_backends/s3.py is the backend (`S3Storage` adds the storage protocol to
`S3Bucket`) and describes the layout in the bucket; s3_upload.py is the upload writer,
which works on an `S3Bucket`. Both import this module and neither imports the other.
"""
from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from .base import BlobInfo, BlobNotFound
from .common import READ_BLOCK, blob_relative_key, canonical_upload_id
from .s3_config import MiB, S3Config, _client, _missing


class _ObjectReader(io.RawIOBase):
    """A GET's body as a binary stream, read in the caller's blocks; no fileno, so gunicorn
    iterates it instead of trying sendfile()."""

    def __init__(self, body) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._body.read(size if size is not None and size >= 0 else None)

    def readinto(self, buffer) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


@dataclass
class _Session:
    multipart_id: str | None
    parts: list[dict] = field(default_factory=list)  # {"PartNumber", "ETag", "Size"}
    tail_size: int = 0

    @property
    def parts_size(self) -> int:
        return sum(p["Size"] for p in self.parts)


class S3Bucket:
    """One configured bucket and prefix, with its client."""

    def __init__(self, config: S3Config) -> None:
        self.config = config
        self.bucket = config.bucket
        self._prefix = config.prefix
        self._client = _client(config)
        if config.buffer_dir is not None:
            config.buffer_dir.mkdir(parents=True, exist_ok=True)

    # -- keys, derived only from validated values ---------------------------------------
    def _blob_key(self, digest: str) -> str:
        return f"{self._prefix}blobs/{blob_relative_key(digest)}"

    def _session_prefix(self, upload_id: str) -> str:
        return f"{self._prefix}uploads/{canonical_upload_id(upload_id)}/"

    def _tail_key(self, upload_id: str) -> str:
        return self._session_prefix(upload_id) + "tail"

    def _data_key(self, upload_id: str) -> str:
        return self._session_prefix(upload_id) + "data"

    # -- objects -------------------------------------------------------------------------
    def stat(self, digest: str) -> BlobInfo | None:
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=self._blob_key(digest))
        except BlobNotFound:
            return None
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return BlobInfo(size=response["ContentLength"])

    def _copy(self, source: str, target: str, size: int, etag: str) -> None:
        """Server-side copy of the object that was hashed (CopySourceIfMatch)."""
        if size <= self.config.copy_threshold:
            self._client.copy_object(
                Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}, CopySourceIfMatch=etag
            )
            return
        self._client.copy(
            {"Bucket": self.bucket, "Key": source}, self.bucket, target, ExtraArgs={"CopySourceIfMatch": etag},
            Config=TransferConfig(multipart_threshold=self.config.copy_threshold, multipart_chunksize=512 * MiB),
        )

    def _objects(self, prefix: str) -> Iterator[dict]:
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def _multipart_uploads(self, prefix: str) -> Iterator[dict]:
        for page in self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Uploads", [])

    def _parts(self, key: str, multipart_id: str) -> list[dict]:
        parts = []
        pages = self._client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=multipart_id)
        for page in pages:
            parts += page.get("Parts", [])
        return sorted(parts, key=lambda p: p["PartNumber"])

    def _read_tail(self, upload_id: str, buffer: BinaryIO) -> None:
        """The tail object's bytes appended to `buffer` (a writer going back to its start)."""
        body = self._client.get_object(Bucket=self.bucket, Key=self._tail_key(upload_id))["Body"]
        with _ObjectReader(body) as stream:
            shutil.copyfileobj(stream, buffer, READ_BLOCK)

    def cancel_upload(self, upload_id: str) -> None:
        prefix = self._session_prefix(upload_id)
        for upload in self._multipart_uploads(prefix):
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            except ClientError as exc:
                if not _missing(exc):
                    raise
        keys = [{"Key": obj["Key"]} for obj in self._objects(prefix)]
        for start in range(0, len(keys), 1000):
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[start:start + 1000], "Quiet": True})
