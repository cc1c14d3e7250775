"""Blob upload sessions: start, append chunks, commit as a digest, cancel; and mounts.

The bytes are written and verified by the storage backend before any row says the blob
exists; the database work after a commit is one short transaction.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from storage_backends import get_storage
from storage_backends.base import DigestMismatch, UploadNotFound, UploadWriter

from ..auth.access import Denied
from ..errors import BlobUploadInvalid, BlobUploadUnknown, ChunkOutOfOrder, DigestInvalid, SizeInvalid
from ..http import BodyError
from ..models import Blob, Repository, RepositoryBlob, Upload
from .blobs import blob_register
from .gc import blob_file_discard
from .quotas import quota_check
from .repositories import repository_ensure

logger = logging.getLogger(__name__)


def upload_get(*, repository_name: str, upload_id: str) -> Upload:
    """The session, only if it belongs to this repository (ids are not shared secrets)."""
    upload = (
        Upload.objects.select_related("repository")
        .filter(pk=upload_id, repository__name=repository_name)
        .first()
    )
    if upload is None:
        raise BlobUploadUnknown(detail={"uuid": upload_id})
    return upload


def upload_start(*, repository_name: str) -> Upload:
    repository = repository_ensure(name=repository_name)
    upload = Upload.objects.create(repository=repository)
    get_storage().start_upload(str(upload.id)).close()
    return upload


def upload_size(*, upload: Upload) -> int:
    try:
        return get_storage().upload_size(str(upload.id))
    except UploadNotFound:
        upload.delete()
        raise BlobUploadUnknown(detail={"uuid": str(upload.id)}) from None


def _resume(upload: Upload) -> UploadWriter:
    try:
        return get_storage().resume_upload(str(upload.id))
    except UploadNotFound:
        upload.delete()
        raise BlobUploadUnknown(detail={"uuid": str(upload.id)}) from None


def _write(
    writer: UploadWriter,
    chunks: Iterable[bytes],
    content_range: tuple[int, int] | None,
    declared_length: int | None,
) -> None:
    """Append one chunk at the writer's end, refusing chunks that start anywhere else."""
    start = writer.size
    if content_range is not None:
        if content_range[0] != start:
            raise ChunkOutOfOrder(
                detail={"expected_start": start, "got": content_range[0]},
                headers={"Range": _range_header(start)},
            )
        expected = content_range[1] - content_range[0] + 1
        if declared_length is not None and declared_length != expected:
            raise ChunkOutOfOrder(
                "Content-Length does not match Content-Range",
                headers={"Range": _range_header(start)},
            )
    try:
        for chunk in chunks:
            writer.write(chunk)
    except BodyError as exc:
        raise SizeInvalid(str(exc)) from None
    if content_range is not None and writer.size - start != content_range[1] - content_range[0] + 1:
        raise BlobUploadInvalid("chunk length does not match Content-Range")


def _range_header(size: int) -> str:
    return f"0-{max(size - 1, 0)}"


def upload_append(
    *,
    upload: Upload,
    chunks: Iterable[bytes],
    content_range: tuple[int, int] | None = None,
    declared_length: int | None = None,
) -> int:
    """Stream a chunk into the session; returns the new size."""
    writer = _resume(upload)
    try:
        _write(writer, chunks, content_range, declared_length)
        return writer.size
    finally:
        writer.close()


def _announce_commit(upload: Upload, digest: str) -> None:
    """Record, committed, that this session is about to move `digest` into place.

    Garbage collection deletes a blob's row and file together and skips digests a session
    is committing; our file lands only after this, so it can never be deleted under a row
    we are about to create (services/gc.py). Cleared when the Upload row goes.
    """
    with transaction.atomic():
        # PostgreSQL: wait for a collection deleting this blob right now (it holds the row
        # lock). SQLite's IMMEDIATE transactions serialize the two anyway.
        # NO KEY UPDATE: waits for a collection's FOR UPDATE, not for other pushes' links.
        list(Blob.objects.select_for_update(no_key=True).filter(digest=digest).values_list("pk", flat=True))
        if not Upload.objects.filter(pk=upload.pk).update(digest=digest):
            raise BlobUploadUnknown(detail={"uuid": str(upload.id)})  # purged meanwhile
    upload.digest = digest


def _quota_or_cancel(upload: Upload, writer: UploadWriter, digest: str, size: int) -> None:
    """The early quota check: over quota, the session and its bytes go (nothing counts)."""
    try:
        quota_check(repository_name=upload.repository.name, digest=digest, size=size)
    except Denied:
        writer.cancel()
        Upload.objects.filter(pk=upload.pk).delete()
        raise


def upload_commit(
    *,
    upload: Upload,
    digest: str,
    chunks: Iterable[bytes] = (),
    content_range: tuple[int, int] | None = None,
    declared_length: int | None = None,
) -> Blob:
    """Append the optional final chunk, verify the whole content and make it a blob.

    A digest mismatch drops the session and its bytes: nothing is left behind.
    """
    writer = _resume(upload)
    repository = upload.repository
    try:
        if declared_length is not None:  # refused before the body is read
            _quota_or_cancel(upload, writer, digest, writer.size + declared_length)
        _write(writer, chunks, content_range, declared_length)
        if declared_length is None:  # chunked to the end: the size is known only now
            _quota_or_cancel(upload, writer, digest, writer.size)
        _announce_commit(upload, digest)
        info = writer.commit(digest)
    except DigestMismatch as exc:
        # Through the queryset: `Model.delete()` clears `upload.id`, which callers still use
        # (upload_monolithic cancels the session by id after this raises).
        Upload.objects.filter(pk=upload.pk).delete()
        raise DigestInvalid(detail={"expected": exc.expected, "actual": exc.actual}) from None
    finally:
        writer.close()
    try:
        blob = blob_register(repository=repository, digest=digest, size=info.size)
    except Denied:
        # Another push took the last of the quota after our early check; our file is in
        # place without a row: drop the session's claim, then the file if nobody else's.
        Upload.objects.filter(pk=upload.pk).delete()
        blob_file_discard(digest=digest)
        raise
    Upload.objects.filter(pk=upload.pk).delete()
    logger.info("push blob repository=%s digest=%s size=%d", repository.name, digest, info.size)
    return blob


def upload_monolithic(
    *, repository_name: str, digest: str, chunks: Iterable[bytes], declared_length: int | None
) -> Blob:
    """A whole blob in one request (single POST), hashed while it streams to disk."""
    if declared_length is not None:
        # Known to be over quota: refused before the body is read or a session made.
        quota_check(repository_name=repository_name, digest=digest, size=declared_length)
    upload = upload_start(repository_name=repository_name)
    try:
        return upload_commit(upload=upload, digest=digest, chunks=chunks, declared_length=declared_length)
    except Exception:
        upload_cancel(upload=upload)
        raise


def upload_cancel(*, upload: Upload) -> None:
    get_storage().cancel_upload(str(upload.id))
    Upload.objects.filter(pk=upload.pk).delete()


def blob_mount(*, repository_name: str, digest: str, from_name: str) -> Blob | None:
    """Link a blob already visible in `from_name` into `repository_name`; None if it is not."""
    # One transaction with the source link locked: garbage collection cannot unlink the
    # source and delete the blob between our check and the new link (services/gc.py).
    with transaction.atomic():
        link = (
            RepositoryBlob.objects.select_for_update(no_key=True, of=("self",)).select_related("blob")
            .filter(repository__name=from_name, blob__digest=digest)
            .first()
        )
        if link is None or get_storage().stat(digest) is None:
            return None
        repository: Repository = repository_ensure(name=repository_name)
        blob_register(repository=repository, digest=digest, size=link.blob.size)
    logger.info("mount blob repository=%s from=%s digest=%s", repository_name, from_name, digest)
    return link.blob


@dataclass
class PurgeReport:
    sessions: list[str] = field(default_factory=list)  # Upload rows dropped with their bytes
    orphans: list[str] = field(default_factory=list)  # staging areas no row knew
    bytes: int = 0


def upload_purge(*, older_than: timedelta, dry_run: bool = False) -> PurgeReport:
    """Drop upload sessions started before `older_than` and idle as long (no byte written
    since), and staging areas of that age with no session row (left by a crash)."""
    cutoff = timezone.now() - older_than
    storage = get_storage()
    # Walked before the rows are read: a session started after the walk is not in `staged`,
    # so it can never look like an orphan.
    staged = {item.name: item for item in storage.walk("uploads")}
    report = PurgeReport()
    for upload_id in Upload.objects.filter(started_at__lt=cutoff).values_list("pk", flat=True):
        item = staged.get(str(upload_id))
        if item is not None and item.modified_at >= cutoff.timestamp():
            continue  # a slow client still sending bytes
        # The row first: the client's next request is BLOB_UPLOAD_UNKNOWN, not a half-gone file.
        if not dry_run and not Upload.objects.filter(pk=upload_id).delete()[0]:
            continue  # finished or cancelled meanwhile
        if not dry_run:
            storage.cancel_upload(str(upload_id))
        report.sessions.append(str(upload_id))
        report.bytes += item.size if item else 0
    known = {str(pk) for pk in Upload.objects.filter(pk__in=list(staged)).values_list("pk", flat=True)}
    for name, item in staged.items():
        if name in known or name in report.sessions or item.modified_at >= cutoff.timestamp():
            continue
        if not dry_run:
            storage.cancel_upload(name)
        report.orphans.append(name)
        report.bytes += item.size
    logger.info(
        "purge uploads%s sessions=%d orphans=%d bytes=%d older_than=%ds",
        " dry-run" if dry_run else "", len(report.sessions), len(report.orphans), report.bytes,
        older_than.total_seconds(),
    )
    return report
