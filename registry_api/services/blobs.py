"""Blobs as a repository sees them: linked by push or mount, read as streams, unlinked."""
from __future__ import annotations

import logging
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from storage_backends import get_storage
from storage_backends.base import BlobNotFound

from .. import events
from ..errors import BlobUnknown
from ..locking import lock_repository
from ..models import Blob, Repository, RepositoryBlob
from .quotas import quota_check
from .repositories import repository_get

logger = logging.getLogger(__name__)


def blob_register(*, repository: Repository, digest: str, size: int) -> Blob:
    """Record a committed blob and make it visible in `repository`; DENIED over quota."""
    with transaction.atomic():
        quota_check(repository_name=repository.name, digest=digest, size=size, lock=True)
        blob, _ = Blob.objects.get_or_create(digest=digest, defaults={"size": size})
        link, created = RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)
        # Pushed or mounted again: the link's age restarts, so garbage collection's grace
        # period covers the manifest that the client is about to push (services/gc.py).
        if not created and not RepositoryBlob.objects.filter(pk=link.pk).update(created_at=timezone.now()):
            # PostgreSQL: a collection removed the link between our read and our update.
            RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)
    return blob


def blob_linked(*, repository_name: str, digest: str) -> Blob:
    """The blob if it is visible in the repository; BLOB_UNKNOWN (or NAME_UNKNOWN) if not."""
    repository = repository_get(name=repository_name)
    link = (
        RepositoryBlob.objects.select_related("blob")
        .filter(repository=repository, blob__digest=digest)
        .first()
    )
    if link is None:
        raise BlobUnknown(detail={"digest": digest})
    return link.blob


def blob_open(*, blob: Blob, offset: int = 0) -> BinaryIO:
    """A stream of a blob found by `blob_linked`, positioned at `offset`."""
    try:
        return get_storage().open(blob.digest, offset)
    except BlobNotFound:
        logger.error("blob %s is recorded but missing from storage", blob.digest)
        raise BlobUnknown(detail={"digest": blob.digest}) from None


def blob_redirect_url(*, blob: Blob) -> str | None:
    """Where the client may fetch the blob itself (a presigned S3 URL), when the backend offers one."""
    return get_storage().redirect_url(blob.digest)


def blob_internal_location(*, blob: Blob) -> str | None:
    """Where nginx serves this blob from disk (X-Accel-Redirect), when configured."""
    prefix = settings.REGISTRY_X_ACCEL_REDIRECT
    relative_path = getattr(get_storage(), "relative_path", None)
    if not prefix or relative_path is None:
        return None
    return prefix.rstrip("/") + "/" + relative_path(blob.digest)


def blob_delete(*, repository_name: str, digest: str) -> None:
    """Unlink a blob from a repository. The bytes go when garbage collection finds them unused."""
    repository = repository_get(name=repository_name)
    with transaction.atomic():
        # The lock manifest pushes check their blob links under: a manifest lands naming a
        # blob that is still linked, or is refused; never linked to a blob just unlinked.
        lock_repository(repository.pk)
        deleted, _ = RepositoryBlob.objects.filter(repository=repository, blob__digest=digest).delete()
    if not deleted:
        raise BlobUnknown(detail={"digest": digest})
    logger.info("blob unlinked repository=%s digest=%s", repository_name, digest)
    events.record(action="delete", repository=repository_name, target=digest, detail={"kind": "blob", "digest": digest})
