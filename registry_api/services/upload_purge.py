"""Purging abandoned upload sessions (`manage.py purge_uploads`), never one that is committing.

A session is abandoned when it started before `older_than` and no byte was written to it
for as long. Its staging area says nothing once a commit has moved the file into place, so
a session that has claimed a digest (`Upload.digest`, set just before that move) is
committing and stays: dropping its claim would let garbage collection delete an old row of
that digest with the file just moved, under the row the commit is about to create.

Only a claim older than any commit takes (STALE_CLAIM, or `older_than` if longer: the
process died mid-commit) is cleared, under the digest lock, and only when no file of the
digest is in place, or none that anybody registered: such a file (the commit died between
the move and the row) had the claim as its only holder and goes with it. A commit that
somehow still ran would find its claim gone when it registers, and refuse (uploads.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from storage_backends import get_storage

from ..db.locking import lock_digest
from ..models import Blob, Upload
from .blobs import blob_file_discard_locked

logger = logging.getLogger(__name__)

# Far longer than a commit takes (verify the staged file, rename it, one transaction).
STALE_CLAIM = timedelta(hours=24)


@dataclass
class PurgeReport:
    sessions: list[str] = field(default_factory=list)  # Upload rows dropped with their bytes
    orphans: list[str] = field(default_factory=list)  # staging areas no row knew
    committing: list[str] = field(default_factory=list)  # old sessions left alone: committing now
    bytes: int = 0


def _drop_stale_claim(upload_id, digest: str, dry_run: bool) -> bool:
    """Clear a dead commit's session under the digest lock; False if it turned out alive."""
    with transaction.atomic():
        lock_digest(digest)
        if get_storage().stat(digest) is not None and not Blob.objects.filter(digest=digest).exists():
            if dry_run:
                return True
            # Moved into place, never registered: its only holder is this claim.
            Upload.objects.filter(pk=upload_id, digest=digest).delete()
            blob_file_discard_locked(digest=digest)
            return True
        return dry_run or bool(Upload.objects.filter(pk=upload_id, digest=digest).delete()[0])


def _purge_session(upload_id, digest: str, claimed_at: datetime | None, stale: datetime, dry_run: bool) -> bool:
    if digest:
        if claimed_at is None or claimed_at >= stale:
            return False
        return _drop_stale_claim(upload_id, digest, dry_run)
    # Only if still unclaimed: a session that claimed a digest since we read it is committing.
    return dry_run or bool(Upload.objects.filter(pk=upload_id, digest="").delete()[0])


def upload_purge(*, older_than: timedelta, dry_run: bool = False) -> PurgeReport:
    """Drop upload sessions started before `older_than` and idle as long (no byte written
    since), and staging areas of that age with no session row (left by a crash)."""
    now = timezone.now()
    cutoff, stale = now - older_than, now - max(older_than, STALE_CLAIM)
    storage = get_storage()
    # Walked before the rows are read: a session started after the walk is not in `staged`,
    # so it can never look like an orphan.
    staged = {item.name: item for item in storage.walk("uploads")}
    report = PurgeReport()
    old = Upload.objects.filter(started_at__lt=cutoff).values_list("pk", "digest", "claimed_at")
    for upload_id, digest, claimed_at in old:
        item = staged.get(str(upload_id))
        if item is not None and item.modified_at >= cutoff.timestamp():
            continue  # a slow client still sending bytes
        # The row first: the client's next request is BLOB_UPLOAD_UNKNOWN, not a half-gone file.
        if not _purge_session(upload_id, digest, claimed_at, stale, dry_run):
            if digest:
                report.committing.append(str(upload_id))
            continue  # committing, finished or cancelled meanwhile
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
        "purge uploads%s sessions=%d orphans=%d committing=%d bytes=%d older_than=%ds",
        " dry-run" if dry_run else "", len(report.sessions), len(report.orphans), len(report.committing),
        report.bytes, older_than.total_seconds(),
    )
    return report
