"""Blobs as a repository sees them: linked by push or mount, read as streams, unlinked;
and discarding a file nobody registered (under the digest lock, as every file deletion)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from storage_backends import get_storage
from storage_backends.base import BlobNotFound

from .. import events
from ..db.locking import lock_digest, lock_repository
from ..db.precompiled import Precompiled, PrecompiledInsert, PrecompiledUpdate
from ..db.rows import create_missing
from ..models import Blob, Repository, RepositoryBlob, Upload
from ..oci.errors import BlobUnknown
from .quotas import Readable, quota_check
from .repositories import repository_get

logger = logging.getLogger(__name__)


# Every blob pushed or mounted looks both up (precompiled.py says why).
_BLOB = Precompiled(lambda digest: Blob.objects.filter(digest=digest)[:1], "digest")
_LINK_LOCKED = Precompiled(
    lambda repository_id, blob_id: RepositoryBlob.objects.select_for_update()
    .filter(repository_id=repository_id, blob_id=blob_id)[:1],
    repository_id=int, blob_id=int,
)
_NEW_LINK = PrecompiledInsert(RepositoryBlob)
_LINK_AGE_RESTART = PrecompiledUpdate(
    lambda pk, at: (RepositoryBlob.objects.filter(pk=pk), {"created_at": at}), pk=int, at=datetime
)


def blob_register(*, repository: Repository, digest: str, size: int, readable: Readable = None) -> Blob:
    """Record a committed blob and make it visible in `repository`; DENIED over quota
    (`readable`: what the caller may pull, see `quota_check`).

    No savepoint of its own: inside a caller's transaction (the digest lock, a mount's
    source link) a refusal rolls back with the caller's."""
    with transaction.atomic(savepoint=False):
        quota_check(repository_name=repository.name, digest=digest, size=size, lock=True, readable=readable)
        blob = _BLOB.first(digest=digest)
        if blob is None:
            blob = create_missing(Blob, lambda: _BLOB.first(digest=digest), digest=digest, size=size)
        # Pushed or mounted again: the link's age restarts, so garbage collection's grace
        # period covers the manifest the client is about to push. The row is locked first:
        # a collection deleting it either finished (we find nothing and link again) or
        # waits and then sees the new age (services/gc/sweep.py, phase 2).
        link = _LINK_LOCKED.first(repository_id=repository.pk, blob_id=blob.pk)
        if link is None:
            try:
                with transaction.atomic():
                    _NEW_LINK.create(repository=repository, blob=blob)
            except IntegrityError:  # a concurrent push of the same blob linked it first
                RepositoryBlob.objects.filter(repository=repository, blob=blob).update(created_at=timezone.now())
        else:
            _LINK_AGE_RESTART.run(pk=link.pk, at=timezone.now())
    return blob


def blob_linked(*, repository_name: str, digest: str, may_push: bool = False) -> Blob:
    """The blob if it is visible in the repository; BLOB_UNKNOWN (or NAME_UNKNOWN) if not.

    `may_push`: the caller may push here, so having seen the blob it may skip uploading it
    and push a manifest naming it: an old link's grace period restarts (`_refresh_link`).
    """
    repository = repository_get(name=repository_name)
    link = (
        RepositoryBlob.objects.select_related("blob")
        .filter(repository=repository, blob__digest=digest)
        .first()
    )
    if link is None:
        raise BlobUnknown(detail={"digest": digest})
    if may_push:
        _refresh_link(link)
    return link.blob


def _refresh_link(link: RepositoryBlob) -> None:
    """Restart the link's age once half the grace period has passed (so at most one write
    per link per half period, whatever the traffic). If garbage collection removed it just
    now, the blob is unknown: the client uploads it again instead of naming a lost blob."""
    now = timezone.now()
    half = now - timedelta(seconds=settings.REGISTRY_GC_GRACE_PERIOD / 2)
    if link.created_at >= half:
        return
    if RepositoryBlob.objects.filter(pk=link.pk, created_at__lt=half).update(created_at=now):
        return
    if not RepositoryBlob.objects.filter(pk=link.pk).exists():
        raise BlobUnknown(detail={"digest": link.blob.digest})


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


def blob_file_discard_locked(*, digest: str) -> bool:
    """Delete the file of `digest` unless a row or a committing session claims it; True if
    nothing claimed it. The caller holds `lock_digest(digest)` in its open transaction."""
    if Blob.objects.filter(digest=digest).exists() or Upload.objects.filter(digest=digest).exists():
        return False
    try:
        get_storage().delete(digest)
    except BlobNotFound:
        pass
    return True


def blob_file_discard(*, digest: str) -> bool:
    """`blob_file_discard_locked` in a transaction of its own, for files that never got
    their row (fsck's orphans): checked and deleted under the digest lock, so an upload of
    the same digest claims it before (the file stays) or moves its file in after."""
    with transaction.atomic():
        lock_digest(digest)
        return blob_file_discard_locked(digest=digest)
