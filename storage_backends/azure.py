"""Content-addressed blob storage in an Azure Blob Storage container, through Microsoft's SDK.

Blobs below the configured prefix:

    blobs/
      sha256/ab/abcdef0123…     one block blob per blob, named by its digest, immutable
    uploads/
      <uuid>                    one block blob per upload session: its committed block
                                list is exactly the bytes staged so far

No state stays in a process between requests: a writer reads the session's committed block
list (Get Block List) and goes on from its end, so any instance may continue a session.
While a request streams, bytes are buffered in a temporary file on local disk (never in
memory) and each full block is staged (Put Block) as it fills; when the request ends, the
rest is staged and the new block list committed (Put Block List, only if the session blob
is still the one the writer found). Only then do the request's bytes count: a request that
died before, or whose chunk was refused (`truncate`), leaves the session as it was, and the
blocks it staged are never committed (Azure drops them with the blob, or after a week).

Commit: the block list is committed, and the content's digest checked: in flight when this
process hashed every byte (also across requests, the last request's hasher is kept in
memory and taken if the next one lands here), otherwise by streaming the session blob back.
Then the session blob is copied server-side to the blob's name (Copy Blob, only from the
version that was hashed) and deleted. Content that never filled a block is verified in the
local buffer and put under its name in one request. A blob whose copy has not succeeded (a
copy still pending, or one that failed) is not there for `stat`, `open` or `walk`. A
mismatch deletes the session: nothing is left behind.

Network waits go through the SDK's `requests` sockets, which gevent's worker has patched;
the buffer writes and hashing run on gevent's thread pool (storage_backends/offload.py).
"""
from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, Literal

from azure.core.exceptions import (
    ClientAuthenticationError, HttpResponseError, ResourceNotFoundError, ServiceRequestError, ServiceResponseError,
)
from azure.storage.blob import BlobSasPermissions, generate_blob_sas

from .azure_config import REDIRECT_EXPIRES, AzureConfig, is_missing
from .azure_container import _COMPLETE, AzureContainer
from .azure_upload import AzureUploadWriter
from .base import BlobNotFound, InvalidOffset, StorageError, StoredItem, UploadNotFound
from .common import BodyReader, digest_from_relative_key, is_canonical_upload_id

__all__ = ["AzureConfig", "AzureStorage", "AzureUploadWriter"]


class AzureStorage(AzureContainer):
    """The storage protocol over an AzureContainer (azure_container.py: the clients, the
    names, `stat`, the server-side copy, `cancel_upload`)."""

    @classmethod
    def from_settings(cls, settings) -> "AzureStorage":
        config = AzureConfig.from_settings(settings)
        if config.problems():
            raise StorageError("; ".join(config.problems()))
        return cls(config)

    def check(self) -> None:
        """The container must exist and take our credentials; each failure names its setting."""
        where, container = self.config.where(), self.config.container
        try:
            self._container.get_container_properties()
        except ResourceNotFoundError:
            raise StorageError(
                f"container {container!r} does not exist in {where} (REGISTRY_AZURE_CONTAINER)"
            ) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StorageError(
                f"storage account {where} is unreachable ({_first_line(exc)}): check "
                "REGISTRY_AZURE_ACCOUNT_URL or REGISTRY_AZURE_CONNECTION_STRING"
            ) from None
        except HttpResponseError as exc:
            if not isinstance(exc, ClientAuthenticationError) and exc.status_code not in (401, 403):
                raise StorageError(
                    f"container {container!r} at {where} is not usable (HTTP {exc.status_code})"
                ) from None
            raise StorageError(
                f"{where} refused the credentials ({_first_line(exc)}): check REGISTRY_AZURE_ACCOUNT_KEY, "
                "REGISTRY_AZURE_SAS_TOKEN, REGISTRY_AZURE_CONNECTION_STRING or the Azure identity"
            ) from None

    # -- blobs ---------------------------------------------------------------------------
    def open(self, digest: str, offset: int = 0) -> BinaryIO:
        blob = self._blob_client(digest)
        if offset < 0:
            raise InvalidOffset(offset)
        try:
            downloader = blob.download_blob(offset=offset or None, max_concurrency=1)
        except ResourceNotFoundError:
            raise BlobNotFound(digest) from None
        except HttpResponseError as exc:
            if exc.status_code != 416:
                raise
            info = self.stat(digest)  # a range starting past the end
            if info is None:
                raise BlobNotFound(digest) from None
            if offset != info.size:
                raise InvalidOffset(offset) from None
            return io.BytesIO()
        if downloader.properties.copy.status not in _COMPLETE:
            raise BlobNotFound(digest)
        return BodyReader(downloader, read_all=-1)  # ranged GETs of READ_CHUNK

    def delete(self, digest: str) -> None:
        if self.stat(digest) is None:
            raise BlobNotFound(digest)
        try:
            self._blob_client(digest).delete_blob()
        except ResourceNotFoundError:
            raise BlobNotFound(digest) from None

    def redirect_url(self, digest: str) -> str | None:
        """A read-only SAS URL of the blob for REDIRECT_EXPIRES seconds: signed with the account
        key, or with a user delegation key when the identity is Azure AD's."""
        if not self.config.redirect:
            return None
        blob = self._blob_client(digest)
        now = datetime.now(timezone.utc)
        signing: dict = {}
        account_key = getattr(self._service.credential, "account_key", None)
        if account_key:
            signing["account_key"] = account_key
        else:
            signing["user_delegation_key"] = self._delegation_key(now)
        token = generate_blob_sas(
            self._service.account_name, self.config.container, blob.blob_name,
            permission=BlobSasPermissions(read=True), expiry=now + timedelta(seconds=REDIRECT_EXPIRES),
            start=now - timedelta(minutes=5), **signing,  # a client's clock may run a little behind
        )
        return f"{blob.url.split('?', 1)[0]}?{token}"

    def _delegation_key(self, now: datetime):
        """Azure AD's key for signing SAS URLs, asked for once an hour (it may live 7 days)."""
        if self._delegation is None or self._delegation[0] < now + timedelta(seconds=REDIRECT_EXPIRES):
            expiry = now + timedelta(hours=2)
            key = self._service.get_user_delegation_key(now - timedelta(minutes=5), expiry)
            self._delegation = (expiry, key)
        return self._delegation[1]


    # -- housekeeping ----------------------------------------------------------------------
    def walk(self, area: Literal["blobs", "uploads"]) -> Iterator[StoredItem]:
        if area == "blobs":
            root = f"{self._prefix}blobs/"
            for item in self._container.list_blobs(name_starts_with=root, include=["copy"]):
                digest = digest_from_relative_key(item.name[len(root):])
                if digest is not None and item.copy.status in _COMPLETE:
                    yield StoredItem(digest, item.size, item.last_modified.timestamp())
        elif area == "uploads":
            root = f"{self._prefix}uploads/"
            for item in self._container.list_blobs(name_starts_with=root):
                name = item.name[len(root):]
                if is_canonical_upload_id(name):
                    yield StoredItem(name, item.size, item.last_modified.timestamp())
        else:
            raise ValueError(f"unknown storage area {area!r}")

    # -- uploads ---------------------------------------------------------------------------
    def _buffer(self) -> BinaryIO:
        """A block buffer on local disk, removed as soon as it is closed."""
        return tempfile.TemporaryFile(dir=self.config.buffer_dir, prefix="azure-block-")

    def _load(self, upload_id: str) -> tuple[list[tuple[str, int]], str]:
        """The session's committed blocks (id, size) and its blob's ETag, in one request."""
        headers: dict = {}

        def keep_headers(response, deserialized, response_headers):
            headers.update(response_headers)
            return deserialized

        try:
            committed, _ = self._session_blob(upload_id).get_block_list("committed", cls=keep_headers)
        except HttpResponseError as exc:
            if is_missing(exc):
                raise UploadNotFound(upload_id) from None
            raise
        return [(block.id, block.size) for block in committed], headers["ETag"]

    def start_upload(self, upload_id: str, algorithm: str = "sha256") -> AzureUploadWriter:
        response = self._session_blob(upload_id).commit_block_list([])  # the session's marker
        hasher = hashlib.new(algorithm)
        return AzureUploadWriter(self, upload_id, [], response["etag"], self._buffer(), hasher, algorithm)

    def resume_upload(self, upload_id: str, algorithm: str = "sha256") -> AzureUploadWriter:
        committed, etag = self._load(upload_id)
        size = sum(block_size for _, block_size in committed)
        hasher = hashlib.new(algorithm) if size == 0 else self._hashers.take(upload_id, size)
        if hasher is not None and hasher.name != algorithm:
            hasher = None
        return AzureUploadWriter(self, upload_id, committed, etag, self._buffer(), hasher, algorithm)

    def upload_size(self, upload_id: str) -> int:
        committed, _ = self._load(upload_id)
        return sum(block_size for _, block_size in committed)



def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
