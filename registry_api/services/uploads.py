"""Blob upload sessions: start, append chunks, commit as a digest, cancel; and mounts.

The bytes are written and verified by the storage backend before any row says the blob
exists; the database work after a commit is one short transaction.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.utils import timezone

from storage_backends import get_storage
from storage_backends.base import DigestMismatch, UploadNotFound, UploadWriter

from ..auth.access import Denied
from ..errors import BlobUploadInvalid, BlobUploadUnknown, ChunkOutOfOrder, DigestInvalid, SizeInvalid
from ..http import BodyError
from ..locking import lock_digest
from ..models import Blob, Repository, RepositoryBlob, Upload
from .blobs import blob_file_discard_locked, blob_register
from .quotas import QuotaRoom, quota_check, quota_room
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


def _within_quota(chunks: Iterable[bytes], writer: UploadWriter, room: QuotaRoom | None) -> Iterator[bytes]:
    """The chunks, refused (DENIED) as soon as the staged bytes would not fit the quota."""
    for chunk in chunks:
        if room is not None and not room.fits(writer.size + len(chunk)):
            raise room.refusal(writer.size + len(chunk), "this upload has staged")
        yield chunk


def _cancel(upload: Upload, writer: UploadWriter) -> None:
    """Drop the session and its bytes (refused uploads never count, nor stay)."""
    writer.cancel()
    Upload.objects.filter(pk=upload.pk).delete()


def _write_within_quota(
    upload: Upload, writer: UploadWriter, chunks: Iterable[bytes], room: QuotaRoom | None,
    content_range: tuple[int, int] | None, declared_length: int | None,
) -> None:
    """`_write`, checked against the namespace's quota before the body is read (when its
    length is declared) and as it arrives; over quota, the session and its bytes go."""
    try:
        if room is not None and declared_length is not None and not room.fits(writer.size + declared_length):
            raise room.refusal(writer.size + declared_length)
        _write(writer, _within_quota(chunks, writer, room), content_range, declared_length)
    except Denied:
        _cancel(upload, writer)
        raise


def upload_append(
    *,
    upload: Upload,
    chunks: Iterable[bytes],
    content_range: tuple[int, int] | None = None,
    declared_length: int | None = None,
) -> int:
    """Stream a chunk into the session; returns the new size. DENIED (and the session
    cancelled) once the staged bytes no longer fit the namespace's quota: the digest is
    not known yet, so a blob the namespace already holds is counted here as new bytes."""
    writer = _resume(upload)
    try:
        room = quota_room(repository_name=upload.repository.name)  # once per request
        _write_within_quota(upload, writer, chunks, room, content_range, declared_length)
        return writer.size
    finally:
        writer.close()


def _announce_commit(upload: Upload, digest: str) -> None:
    """Claim `digest` for this session, committed, before its file is moved into place.

    Under the digest lock that every file deletion takes (locking.py): a collection or a
    discard deleting this digest's file right now finishes first, and none starts after
    this commits until the claim is gone (services/gc/__init__.py has the argument).
    """
    with transaction.atomic():
        lock_digest(digest)
        if not Upload.objects.filter(pk=upload.pk).update(digest=digest, claimed_at=timezone.now()):
            raise BlobUploadUnknown(detail={"uuid": str(upload.id)})  # purged or cancelled meanwhile
    upload.digest = digest


def _register(upload: Upload, digest: str, size: int) -> Blob:
    """Row, link and the end of the claim in one transaction under the digest lock, only
    while the claim stands: a session purged or cancelled (or its repository deleted) while
    committing lost it, and garbage collection may then have taken the file. Refused (over
    quota, or no claim), the claim goes and the file too unless someone else holds it."""
    refused: Exception
    with transaction.atomic():
        lock_digest(digest)
        if Upload.objects.filter(pk=upload.pk, digest=digest).exists():
            try:
                blob = blob_register(repository=upload.repository, digest=digest, size=size)
            except Denied as exc:  # another push took the last of the quota after our check
                refused = exc
            else:
                Upload.objects.filter(pk=upload.pk).delete()
                return blob
        else:
            refused = BlobUploadUnknown("the upload session ended while it was committing",
                                        detail={"uuid": str(upload.id)})
        Upload.objects.filter(pk=upload.pk).delete()
        blob_file_discard_locked(digest=digest)
    raise refused


def upload_commit(
    *,
    upload: Upload,
    digest: str,
    chunks: Iterable[bytes] = (),
    content_range: tuple[int, int] | None = None,
    declared_length: int | None = None,
) -> Blob:
    """Append the optional final chunk, verify the whole content and make it a blob.

    A digest mismatch or a refusal over quota drops the session and its bytes: nothing is
    left behind.
    """
    writer = _resume(upload)
    repository = upload.repository
    try:
        room = quota_room(repository_name=repository.name, digest=digest)
        _write_within_quota(upload, writer, chunks, room, content_range, declared_length)
        _announce_commit(upload, digest)
        info = writer.commit(digest)
    except DigestMismatch as exc:
        # Through the queryset: `Model.delete()` clears `upload.id`, which callers still use
        # (upload_monolithic cancels the session by id after this raises).
        Upload.objects.filter(pk=upload.pk).delete()
        raise DigestInvalid(detail={"expected": exc.expected, "actual": exc.actual}) from None
    finally:
        writer.close()
    blob = _register(upload, digest, info.size)
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
    # source and delete the blob between our check and the new link (services/gc/). Only
    # the link row (`of=self`): on PostgreSQL a plain FOR UPDATE over the join would also
    # lock the source repository row, which GC holds while it waits for this link: deadlock.
    with transaction.atomic():
        link = (
            RepositoryBlob.objects.select_for_update(of=("self",)).select_related("blob")
            .filter(repository__name=from_name, blob__digest=digest)
            .first()
        )
        if link is None or get_storage().stat(digest) is None:
            return None
        repository: Repository = repository_ensure(name=repository_name)
        blob_register(repository=repository, digest=digest, size=link.blob.size)
    logger.info("mount blob repository=%s from=%s digest=%s", repository_name, from_name, digest)
    return link.blob
