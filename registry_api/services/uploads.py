"""Blob upload sessions: start, append chunks, commit as a digest, cancel; and mounts.

The bytes are written and verified by the storage backend before any row says the blob
exists; the database work after a commit is one short transaction.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from storage_backends import get_storage
from storage_backends.base import DigestMismatch, UploadNotFound, UploadWriter

from ..errors import BlobUploadInvalid, BlobUploadUnknown, ChunkOutOfOrder, DigestInvalid, SizeInvalid
from ..http import BodyError
from ..models import Blob, Repository, RepositoryBlob, Upload
from .blobs import blob_register
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
    try:
        _write(writer, chunks, content_range, declared_length)
        info = writer.commit(digest)
    except DigestMismatch as exc:
        # Through the queryset: `Model.delete()` clears `upload.id`, which callers still use
        # (upload_monolithic cancels the session by id after this raises).
        Upload.objects.filter(pk=upload.pk).delete()
        raise DigestInvalid(detail={"expected": exc.expected, "actual": exc.actual}) from None
    finally:
        writer.close()
    repository = upload.repository
    blob = blob_register(repository=repository, digest=digest, size=info.size)
    Upload.objects.filter(pk=upload.pk).delete()
    logger.info("push blob repository=%s digest=%s size=%d", repository.name, digest, info.size)
    return blob


def upload_monolithic(
    *, repository_name: str, digest: str, chunks: Iterable[bytes], declared_length: int | None
) -> Blob:
    """A whole blob in one request (single POST), hashed while it streams to disk."""
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
    link = (
        RepositoryBlob.objects.select_related("blob")
        .filter(repository__name=from_name, blob__digest=digest)
        .first()
    )
    if link is None or get_storage().stat(digest) is None:
        return None
    repository: Repository = repository_ensure(name=repository_name)
    blob_register(repository=repository, digest=digest, size=link.blob.size)
    logger.info("mount blob repository=%s from=%s digest=%s", repository_name, from_name, digest)
    return link.blob
