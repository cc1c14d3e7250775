"""The container as the Azure backend and its upload writer both use it: the clients, the
blob names (derived only from validated values), and what a commit needs: stat, the
server-side copy, deleting a session, and the hashers kept between requests.

storage_backends/azure.py is the backend (`AzureStorage` adds the storage protocol to
`AzureContainer`) and describes the layout in the container; azure_upload.py is the upload
writer, which works on an `AzureContainer`. Both import this module and neither imports
the other.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient

from .azure_config import AzureConfig, service_client
from .base import BlobInfo, BlobNotFound, StorageError
from .common import HasherCache, blob_relative_key, canonical_upload_id

logger = logging.getLogger(__name__)

# How long a commit waits for a server-side copy Azure reports as pending (a copy within one
# account normally completes before Copy Blob answers).
COPY_TIMEOUT = 15 * 60
# Copy states of a blob that holds its whole content: none (written directly) or a finished copy.
_COMPLETE = (None, "success")


class AzureContainer:
    """One configured container and prefix, with its clients."""

    def __init__(self, config: AzureConfig) -> None:
        self.config = config
        self._service = service_client(config)
        self._container = self._service.get_container_client(config.container)
        self._prefix = config.prefix
        self._hashers = HasherCache()
        self._delegation: tuple[datetime, object] | None = None
        if config.buffer_dir is not None:
            config.buffer_dir.mkdir(parents=True, exist_ok=True)

    # -- names, derived only from validated values ---------------------------------------
    def _blob_client(self, digest: str) -> BlobClient:
        return self._container.get_blob_client(f"{self._prefix}blobs/{blob_relative_key(digest)}")

    def _session_blob(self, upload_id: str) -> BlobClient:
        return self._container.get_blob_client(f"{self._prefix}uploads/{canonical_upload_id(upload_id)}")

    # -- blobs ---------------------------------------------------------------------------
    def stat(self, digest: str) -> BlobInfo | None:
        try:
            properties = self._blob_client(digest).get_blob_properties()
        except (BlobNotFound, ResourceNotFoundError):
            return None
        if properties.copy.status not in _COMPLETE:
            return None
        return BlobInfo(size=properties.size)

    def _copy(self, source: BlobClient, target: BlobClient, etag: str) -> None:
        """Server-side copy of the session blob as it was hashed (source If-Match)."""
        copy = target.start_copy_from_url(
            source.url, source_etag=etag, source_match_condition=MatchConditions.IfNotModified
        )
        status, deadline, pause = copy["copy_status"], time.monotonic() + COPY_TIMEOUT, 0.05
        while status == "pending" and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            status = target.get_blob_properties().copy.status
        if status != "success":
            try:
                target.abort_copy(copy["copy_id"]) if status == "pending" else target.delete_blob(etag=copy["etag"])
            except HttpResponseError:
                pass  # not there for stat() either way: an unfinished copy is not a blob
            logger.warning("server-side copy to %s ended %s", target.blob_name, status)
            raise StorageError(f"server-side copy to {target.blob_name} ended {status}")

    def cancel_upload(self, upload_id: str) -> None:
        blob = self._session_blob(upload_id)
        self._hashers.drop(upload_id)
        try:
            blob.delete_blob()  # its uncommitted blocks go with it
        except ResourceNotFoundError:
            pass
