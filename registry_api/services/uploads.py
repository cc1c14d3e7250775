"""Blob upload sessions: start, append chunks, commit as a digest, cancel; and mounts.

The bytes are written and verified by the storage backend before any row says the blob
exists; the database work after a commit is one short transaction. A session only names
its repository: the repository is created when the first blob lands in it (or a mount, or
a manifest push), so sessions that never finish leave nothing in the catalog.
"""
from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from storage_backends import get_storage
from storage_backends.base import DigestMismatch, UploadNotFound, UploadWriter

from ..auth.access import Denied
from ..db.locking import lock_digest
from ..db.precompiled import Precompiled, PrecompiledDelete, PrecompiledInsert, PrecompiledUpdate
from ..edge.http import BodyError
from ..models import Blob, ProxyFetch, Repository, RepositoryBlob, Upload
from ..oci.errors import BlobUploadInvalid, BlobUploadUnknown, ChunkOutOfOrder, DigestInvalid, SizeInvalid, Unsupported
from ..oci.reference import ALGORITHMS
from .blobs import blob_file_discard_locked, blob_register
from .quotas import QuotaRoom, Readable, quota_check, quota_room
from .repositories import repository_ensure

logger = logging.getLogger(__name__)


# Every PATCH and PUT of a push starts here, and every blob pushed writes these (precompiled.py says why).
_SESSION = Precompiled(lambda pk, name: Upload.objects.filter(pk=pk, repository_name=name)[:1], "name", pk=uuid.UUID)
_NEW_SESSION = PrecompiledInsert(Upload)
_CLAIM = PrecompiledUpdate(
    lambda pk, digest, at: (Upload.objects.filter(pk=pk), {"digest": digest, "claimed_at": at}),
    "digest", pk=uuid.UUID, at=datetime,
)
_END = PrecompiledDelete(lambda pk: Upload.objects.filter(pk=pk), pk=uuid.UUID)
_END_CLAIMED = PrecompiledDelete(lambda pk, digest: Upload.objects.filter(pk=pk, digest=digest), "digest", pk=uuid.UUID)
_END_FETCHES = PrecompiledDelete(lambda pk: ProxyFetch.objects.filter(upload_id=pk), pk=uuid.UUID)


def upload_get(*, repository_name: str, upload_id: str) -> Upload:
    """The session, only if it belongs to this repository (ids are not shared secrets).
    `upload_id` is a validated UUID (views/common.py)."""
    upload = _SESSION.first(pk=upload_id, name=repository_name)
    if upload is None:
        raise BlobUploadUnknown(detail={"uuid": upload_id})
    return upload


def digest_algorithm_check(algorithm: str) -> str:
    """`?digest-algorithm=` on POST: one we can verify, else 400 UNSUPPORTED before any byte
    is sent (the spec's reason for the parameter: fail fast rather than after the upload)."""
    if algorithm not in ALGORITHMS:
        raise Unsupported(
            f"digest algorithm {algorithm[:50]!r} is not supported",
            status=400, detail={"digest-algorithm": algorithm[:50], "supported": sorted(ALGORITHMS)},
        )
    return algorithm


def upload_start(*, repository_name: str, digest_algorithm: str = "sha256") -> Upload:
    """A new session. No repository row yet: it is created by the first commit or mount."""
    upload = _NEW_SESSION.create(repository_name=repository_name, digest_algorithm=digest_algorithm)
    get_storage().start_upload(str(upload.id), algorithm=digest_algorithm).close()
    return upload


def upload_size(*, upload: Upload) -> int:
    try:
        return get_storage().upload_size(str(upload.id))
    except UploadNotFound:
        _end_session(upload.pk)
        raise BlobUploadUnknown(detail={"uuid": str(upload.id)}) from None


def _resume(upload: Upload) -> UploadWriter:
    try:
        return get_storage().resume_upload(str(upload.id), algorithm=upload.digest_algorithm)
    except UploadNotFound:
        _end_session(upload.pk)
        raise BlobUploadUnknown(detail={"uuid": str(upload.id)}) from None


def _within_quota(chunks: Iterable[bytes], writer: UploadWriter, room: QuotaRoom | None) -> Iterator[bytes]:
    """The chunks, refused (DENIED) as soon as the staged bytes would not fit the quota."""
    for chunk in chunks:
        if room is not None and not room.fits(writer.size + len(chunk)):
            raise room.refusal(writer.size + len(chunk), "this upload has staged")
        yield chunk


def _cancel(upload: Upload, writer: UploadWriter) -> None:
    """Drop the session and its bytes (refused uploads never count, nor stay)."""
    writer.cancel()
    _end_session(upload.pk)


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


def _write(
    writer: UploadWriter,
    chunks: Iterable[bytes],
    content_range: tuple[int, int] | None,
    declared_length: int | None,
) -> None:
    """Append one chunk at the writer's end, refusing chunks that start anywhere else.

    A chunk refused for any reason (longer or shorter than its Content-Range, a body that
    broke off) is cut off again: the session stays as it was before the request.
    """
    start = writer.size
    expected = None
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
            if expected is not None and writer.size - start + len(chunk) > expected:
                # Never written: a chunked body may run past what its Content-Range declared.
                raise BlobUploadInvalid("chunk longer than its Content-Range", detail={"declared": expected})
            writer.write(chunk)
        if expected is not None and writer.size - start != expected:
            raise BlobUploadInvalid("chunk length does not match Content-Range")
    except Exception as exc:
        writer.truncate(start)
        if isinstance(exc, BodyError):
            raise SizeInvalid(str(exc)) from None
        raise


def _range_header(size: int) -> str:
    return f"0-{max(size - 1, 0)}"


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
        room = quota_room(repository_name=upload.repository_name)  # once per request
        _write_within_quota(upload, writer, chunks, room, content_range, declared_length)
    except BaseException:
        with contextlib.suppress(UploadNotFound):  # the error the client hears is the first one
            writer.close()
        raise
    size = writer.size
    try:
        writer.close()  # where Azure and S3 persist this request's bytes
    except UploadNotFound:
        # Cancelled (or changed) by another request while this one streamed.
        raise BlobUploadUnknown(detail={"uuid": str(upload.id)}) from None
    return size


def _announce_commit(upload: Upload, digest: str) -> None:
    """Claim `digest` for this session, committed, before its file is moved into place.

    Under the digest lock that every file deletion takes (locking.py): a collection or a
    discard deleting this digest's file right now finishes first, and none starts after
    this commits until the claim is gone (services/gc/__init__.py has the argument).
    """
    with transaction.atomic():
        lock_digest(digest)
        if not _CLAIM.run(pk=upload.pk, digest=digest, at=timezone.now()):
            raise BlobUploadUnknown(detail={"uuid": str(upload.id)})  # purged or cancelled meanwhile
    upload.digest = digest


def _register(upload: Upload, digest: str, size: int, readable: Readable) -> Blob:
    """Repository, row, link and the end of the claim in one transaction under the digest
    lock, only while the claim stands: a session purged or cancelled (or its repository
    deleted) while committing lost it, and garbage collection may then have taken the file.
    Refused (over quota, or no claim), the claim goes and the file too unless someone else
    holds it; a push refused here leaves no empty repository behind either."""
    refused: Exception
    with transaction.atomic():
        lock_digest(digest)
        try:
            with transaction.atomic():
                repository = repository_ensure(name=upload.repository_name)
                blob = blob_register(repository=repository, digest=digest, size=size, readable=readable)
                # The claim goes once the row stands; if it had gone already, all this rolls back.
                if not _end_session(upload.pk, digest=digest):
                    raise _ClaimLost
            return blob
        except Denied as exc:  # another push took the last of the quota after our check
            refused = exc
        except _ClaimLost:
            refused = BlobUploadUnknown("the upload session ended while it was committing",
                                        detail={"uuid": str(upload.id)})
        _end_session(upload.pk)
        blob_file_discard_locked(digest=digest)
    raise refused


class _ClaimLost(Exception):
    """The session no longer claimed the digest at registration (purged or cancelled)."""


def _end_session(upload_id: uuid.UUID, *, digest: str | None = None) -> bool:
    """Delete the session's row (only while it claims `digest`, when given) and the proxy
    fetch that cascades from it; True if the row was there. Every way a session ends comes
    here: two DELETEs, where Django's delete() would first SELECT the row to collect its
    cascade, and the caller's `upload.id` stays set (Model.delete() clears it)."""
    ended = _END.run(pk=upload_id) if digest is None else _END_CLAIMED.run(pk=upload_id, digest=digest)
    if not ended:
        return False
    _END_FETCHES.run(pk=upload_id)
    return True


def upload_commit(
    *,
    upload: Upload,
    digest: str,
    chunks: Iterable[bytes] = (),
    content_range: tuple[int, int] | None = None,
    declared_length: int | None = None,
    readable: Readable = None,
) -> Blob:
    """Append the optional final chunk, verify the whole content and make it a blob.

    A digest mismatch or a refusal over quota drops the session and its bytes: nothing is
    left behind. `readable` is what the caller may pull, for the quota (`quota_check`).
    """
    writer = _resume(upload)
    try:
        room = quota_room(repository_name=upload.repository_name, digest=digest, readable=readable)
        _write_within_quota(upload, writer, chunks, room, content_range, declared_length)
        _announce_commit(upload, digest)
        info = writer.commit(digest)
    except DigestMismatch as exc:
        _end_session(upload.pk)
        raise DigestInvalid(detail={"expected": exc.expected, "actual": exc.actual}) from None
    finally:
        writer.close()
    blob = _register(upload, digest, info.size, readable)
    logger.info("push blob repository=%s digest=%s size=%d", upload.repository_name, digest, info.size)
    return blob


def upload_monolithic(
    *, repository_name: str, digest: str, chunks: Iterable[bytes], declared_length: int | None,
    readable: Readable = None,
) -> Blob:
    """A whole blob in one request (single POST), hashed while it streams to disk."""
    if declared_length is not None:
        # Known to be over quota: refused before the body is read or a session made.
        quota_check(repository_name=repository_name, digest=digest, size=declared_length, readable=readable)
    upload = upload_start(repository_name=repository_name, digest_algorithm=digest.partition(":")[0])
    try:
        return upload_commit(
            upload=upload, digest=digest, chunks=chunks, declared_length=declared_length, readable=readable
        )
    except Exception:
        upload_cancel(upload=upload)
        raise


def upload_cancel(*, upload: Upload) -> None:
    get_storage().cancel_upload(str(upload.id))
    _end_session(upload.pk)


def blob_mount(*, repository_name: str, digest: str, from_name: str, readable: Readable = None) -> Blob | None:
    """Link a blob already visible in `from_name` into `repository_name`; None if it is not."""
    # One transaction with the source link locked: garbage collection cannot unlink the
    # source and delete the blob between our check and the new link (services/gc/). Only
    # the link row (`of=self`): on PostgreSQL a plain FOR UPDATE over the join would also
    # lock the source repository row, which GC holds while it waits for this link: deadlock.
    with transaction.atomic():
        link = (
            RepositoryBlob.objects.select_for_update(no_key=True, of=("self",)).select_related("blob")
            .filter(repository__name=from_name, blob__digest=digest)
            .first()
        )
        if link is None or get_storage().stat(digest) is None:
            return None
        repository: Repository = repository_ensure(name=repository_name)
        blob_register(repository=repository, digest=digest, size=link.blob.size, readable=readable)
    logger.info("mount blob repository=%s from=%s digest=%s", repository_name, from_name, digest)
    return link.blob
