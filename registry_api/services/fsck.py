"""Integrity check of blob storage against the database (`manage.py fsck [--repair]`).

Every Blob row must have its file, of the recorded size, hashing to its digest (read as a
stream, one block at a time). Files without a row are orphans: bytes nobody can reach.

What `repair` does, and nothing more:
  * an orphan file is deleted (unless it is younger than the grace period or an upload is
    committing that digest: that is an upload between its file and its row);
  * a row whose file is missing is deleted with its repository links when no manifest
    references it, so clients upload the blob again instead of being told it exists;
  * rows whose file is missing but which manifests reference, and files with the wrong
    size or content, are only reported: the bytes must come back from a backup (or the
    images be deleted and pushed again).
Repairs follow garbage collection's protocol (services/gc/): re-checked under the digest
lock in the transaction that deletes, files deleted inside it. A file found missing is
looked at again under that lock before it is reported: garbage collection deletes a row and
its file in one transaction, so for a moment the file is gone while the row still shows.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction

from storage_backends import get_storage
from storage_backends.base import BlobNotFound

from ..db.locking import lock_digest
from ..models import Blob, ManifestReference, Upload
from .blobs import blob_file_discard
from .gc import grace_cutoff

logger = logging.getLogger(__name__)

READ_BLOCK = 1024 * 1024


@dataclass
class Problem:
    kind: str  # "missing file", "wrong size", "wrong digest", "orphan file"
    digest: str
    detail: str
    repaired: str = ""  # what --repair did, empty if nothing


@dataclass
class FsckReport:
    blobs_checked: int = 0
    bytes_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def unrepaired(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]


def _content_digest(digest: str) -> str:
    algorithm = digest.partition(":")[0]
    hasher = hashlib.new(algorithm)
    with get_storage().open(digest) as stream:
        while block := stream.read(READ_BLOCK):
            hasher.update(block)
    return f"{algorithm}:{hasher.hexdigest()}"


def _check_row(pk: int, digest: str, size: int, verify_digests: bool) -> Problem | None:
    info = get_storage().stat(digest)
    if info is None:
        with transaction.atomic():
            lock_digest(digest)  # waits for a collection deleting it right now
            gone = not Blob.objects.filter(pk=pk).exists()
            info = get_storage().stat(digest)
        if gone:
            return None  # collected while we looked: row and file went together
        if info is None:
            return Problem("missing file", digest, f"the row says {size} bytes; there is no file")
    if info.size != size:
        return Problem("wrong size", digest, f"the row says {size} bytes, the file has {info.size}")
    if verify_digests:
        try:
            actual = _content_digest(digest)
        except BlobNotFound:
            return None  # collected while we read it
        if actual != digest:
            return Problem("wrong digest", digest, f"the file's content hashes to {actual}")
    return None


def _repair_missing(problem: Problem) -> None:
    with transaction.atomic():
        lock_digest(problem.digest)
        blob = Blob.objects.select_for_update().filter(digest=problem.digest).first()
        if blob is None or get_storage().stat(problem.digest) is not None:
            problem.repaired = "resolved meanwhile"
            return
        users = ManifestReference.objects.filter(blob=blob).select_related("manifest__repository")
        first = users.first()
        if first is not None:
            problem.detail += (f"; referenced by {users.count()} manifest(s), e.g. "
                               f"{first.manifest.repository.name}@{first.manifest.digest}: restore it from a backup")
            return
        blob.delete()  # with its repository links
    problem.repaired = "row and its repository links deleted (the next push uploads it again)"
    logger.warning("fsck deleted the row of %s, whose file is missing", problem.digest)


def _repair_orphan(problem: Problem) -> None:
    if not blob_file_discard(digest=problem.digest):
        problem.repaired = "resolved meanwhile (now registered)"
        return
    problem.repaired = "file deleted"
    logger.warning("fsck deleted orphan file %s", problem.digest)


def _rows(page: int = 1000) -> Iterator[tuple[int, str, int]]:
    """Every row, a page at a time, with no cursor left open between pages: the re-checks
    and repairs in between open write transactions on the same connection."""
    last = 0
    while rows := list(Blob.objects.filter(pk__gt=last).order_by("pk").values_list("pk", "digest", "size")[:page]):
        yield from rows
        last = rows[-1][0]


def fsck_run(
    *,
    repair: bool = False,
    verify_digests: bool = True,
    grace_period: timedelta | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> FsckReport:
    """Check (and with `repair`, fix what is safe to fix); logs one summary line."""
    progress = progress or (lambda phase, done, total: None)
    report = FsckReport()
    recent = grace_cutoff(grace_period).timestamp()
    # Files are listed before rows are read: a blob pushed meanwhile has its row by then.
    files = {item.name: item for item in get_storage().walk("blobs")}
    total = Blob.objects.count()
    known: set[str] = set()
    for pk, digest, size in _rows():
        known.add(digest)
        problem = _check_row(pk, digest, size, verify_digests)
        if problem is not None:
            report.problems.append(problem)
            if repair and problem.kind == "missing file":
                _repair_missing(problem)
        report.blobs_checked += 1
        report.bytes_checked += size
        progress("blobs", report.blobs_checked, max(total, report.blobs_checked))
    committing = set(Upload.objects.exclude(digest="").values_list("digest", flat=True))
    for digest, item in files.items():
        if digest in known or digest in committing or item.modified_at >= recent:
            continue  # young files without a row are uploads about to register
        if Blob.objects.filter(digest=digest).exists():
            continue  # registered after we read the rows
        problem = Problem("orphan file", digest, f"{item.size} bytes on disk, no row")
        report.problems.append(problem)
        if repair:
            _repair_orphan(problem)
    logger.info(
        "fsck blobs=%d bytes=%d problems=%d repaired=%d",
        report.blobs_checked, report.bytes_checked, len(report.problems),
        len(report.problems) - len(report.unrepaired),
    )
    return report
