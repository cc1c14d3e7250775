"""The backup lease: while a backup copies blobs, garbage collection deletes none.

A backup takes a database snapshot and then copies every blob the snapshot references; a
blob deleted in between (its manifest deleted after the snapshot, then collected) would be
missing from the copy. So a backup holds a lease (a BackupLease row) from before its
snapshot until its last blob is copied, renewing its heartbeat as it goes; phase 3 of
garbage collection deletes no blob while a lease is fresh, and the next run frees them.
A lease whose heartbeat stopped (the backup was killed) no longer counts after
LEASE_STALE_AFTER.

Taking the lease and each GC blob batch hold the same named lock, so a batch either
committed before the lease (and the snapshot, taken after it, no longer has its rows) or
sees the lease and deletes nothing.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..db.locking import lock_name
from ..models import BackupLease

logger = logging.getLogger(__name__)

LOCK = "backup-lease"
LEASE_STALE_AFTER = timedelta(minutes=10)
HEARTBEAT_EVERY = 30.0  # seconds


def backup_lease_active() -> BackupLease | None:
    """The fresh lease of a backup in progress, if any (call under `lock_name(LOCK)`)."""
    return (BackupLease.objects.filter(heartbeat_at__gte=timezone.now() - LEASE_STALE_AFTER)
            .order_by("started_at").first())


class Lease:
    """A held lease; `beat()` is cheap to call often, it writes at most every HEARTBEAT_EVERY."""

    def __init__(self, row: BackupLease) -> None:
        self.row = row
        self._last = time.monotonic()

    def beat(self) -> None:
        if time.monotonic() - self._last < HEARTBEAT_EVERY:
            return
        BackupLease.objects.filter(pk=self.row.pk).update(heartbeat_at=timezone.now())
        self._last = time.monotonic()


@contextlib.contextmanager
def backup_lease(*, destination: str) -> Iterator[Lease]:
    """Hold the lease for the block; stale leases of killed backups are cleared on the way."""
    with transaction.atomic():
        lock_name(LOCK)
        BackupLease.objects.filter(heartbeat_at__lt=timezone.now() - LEASE_STALE_AFTER).delete()
        row = BackupLease.objects.create(destination=destination[:1000], heartbeat_at=timezone.now())
    logger.info("backup lease taken destination=%s: garbage collection deletes no blob until it ends", destination)
    try:
        yield Lease(row)
    finally:
        BackupLease.objects.filter(pk=row.pk).delete()
