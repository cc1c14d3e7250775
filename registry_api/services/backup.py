"""Backup and restore of a registry: the SQLite database and every blob it references.

A backup is a directory:

    backup.json          what it holds (format, time, blob count and bytes)
    registry.sqlite3     a consistent snapshot of the database (SQLite's online backup API)
    blobs/sha256/ab/…    each blob the snapshot references, in the filesystem backend's layout
    secret_key, token_key.pem   the generated keys, when the data directory holds them

It is taken while the registry serves: the snapshot first, then the blobs it names (blobs
are immutable, so copying them later is as good as copying them then). For that to hold,
no blob of the snapshot may be deleted before it is copied, though its manifest may be
deleted right after the snapshot: the backup holds a lease (services/backup_lease.py) from
before the snapshot to its last blob, and garbage collection deletes no blob meanwhile (it
frees them on its next run). A blob row without its file that no manifest references (a
collection killed mid-transaction) is dropped from the copy. Every blob is hashed as it is
copied, both ways, so a backup never holds, and a restore never installs, bytes of the
wrong digest.

Everything is written into `DEST.partial`, renamed to DEST once complete (`backup.json`
last): a directory called DEST is always a whole backup, and a failed one leaves nothing.
The database copy and the keys are readable by their owner only (0600).

A restore goes onto an empty data directory (no repositories, no blobs): the database
is replaced by the snapshot, then every blob it references is copied into storage. Upload
sessions in the snapshot are dropped (their staged bytes are not in a backup; clients push
those blobs again). PostgreSQL deployments back up the database with pg_dump instead (see
docs/operations.md "Backup and recovery"); this refuses them.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from storage_backends import get_storage
from storage_backends.base import BlobNotFound, BlobStorage, DigestMismatch
from storage_backends.filesystem import FilesystemStorage

from ..lib.files import create_private
from ..models import BackupLease, Blob, ManifestReference, Repository, RepositoryBlob, Upload
from .backup_lease import Lease, backup_lease

logger = logging.getLogger(__name__)

FORMAT = 1
DATABASE_FILE = "registry.sqlite3"
KEY_FILES = ("secret_key", "token_key.pem")
COPY_BLOCK = 1024 * 1024

Progress = Callable[[str, int, int], None]


class BackupError(Exception):
    """The backup or restore cannot be done (or was not complete); the message says why."""


@dataclass
class BackupReport:
    blobs: int = 0
    bytes: int = 0
    # Rows dropped from the copy: unreferenced rows whose file was already gone.
    dropped: list[str] = field(default_factory=list)
    # Restore: upload sessions of the snapshot dropped (their staged bytes are not backed up).
    sessions_dropped: int = 0


def _require_sqlite() -> None:
    if connection.vendor != "sqlite":
        raise BackupError("backup and restore handle SQLite; back up PostgreSQL with pg_dump")


def _copy_blob(source: BlobStorage, target: BlobStorage, digest: str, lease: Lease | None = None) -> int:
    """Stream one blob across; the target's commit verifies the digest."""
    writer = target.start_upload(str(uuid.uuid4()))
    try:
        with source.open(digest) as stream:
            while block := stream.read(COPY_BLOCK):
                writer.write(block)
                if lease is not None:
                    lease.beat()
        return writer.commit(digest).size
    except BaseException:
        writer.cancel()
        raise
    finally:
        writer.close()


def _snapshot(path: Path) -> None:
    connection.ensure_connection()
    create_private(path)  # sqlite3 keeps the mode of an existing file: it holds secrets
    target = sqlite3.connect(path)
    try:
        # One step (pages=-1): the copy is the database at one instant, whatever writes follow.
        connection.connection.backup(target)
    finally:
        target.close()


def _drop_garbage_row(snapshot: sqlite3.Connection, digest: str) -> bool:
    """Drop a blob row the snapshot holds but no manifest of it references."""
    blob_table, link_table = Blob._meta.db_table, RepositoryBlob._meta.db_table
    reference_table = ManifestReference._meta.db_table
    row = snapshot.execute(f"SELECT id FROM {blob_table} WHERE digest = ?", (digest,)).fetchone()
    if row is None or snapshot.execute(f"SELECT 1 FROM {reference_table} WHERE blob_id = ?", row).fetchone():
        return False
    snapshot.execute(f"DELETE FROM {link_table} WHERE blob_id = ?", row)
    snapshot.execute(f"DELETE FROM {blob_table} WHERE id = ?", row)
    return True


def _copy_blobs(snapshot: sqlite3.Connection, target: BlobStorage, lease: Lease, progress: Progress) -> BackupReport:
    report = BackupReport()
    rows = snapshot.execute(f"SELECT digest, size FROM {Blob._meta.db_table} ORDER BY digest").fetchall()
    missing = []
    for done, (digest, size) in enumerate(rows, 1):
        try:
            report.bytes += _copy_blob(get_storage(), target, digest, lease)
            report.blobs += 1
        except BlobNotFound:
            if _drop_garbage_row(snapshot, digest):
                report.dropped.append(digest)
            else:
                missing.append(digest)
        except DigestMismatch as exc:
            missing.append(f"{digest} (stored content hashes to {exc.actual})")
        lease.beat()
        progress("blobs", done, len(rows))
    if missing:
        raise BackupError(f"{len(missing)} referenced blob(s) are missing or damaged in storage "
                          f"(run `manage.py fsck`): {', '.join(missing[:5])}")
    return report


def _write_backup(directory: Path, destination: Path, progress: Progress) -> BackupReport:
    with backup_lease(destination=str(destination)) as lease:
        _snapshot(directory / DATABASE_FILE)
        snapshot = sqlite3.connect(directory / DATABASE_FILE)
        try:
            snapshot.execute(f"DELETE FROM {BackupLease._meta.db_table}")  # ours, meaningless once restored
            report = _copy_blobs(snapshot, FilesystemStorage(directory), lease, progress)
            snapshot.commit()
        finally:
            snapshot.close()
    shutil.rmtree(directory / "uploads", ignore_errors=True)  # the copies' empty staging area
    for name in KEY_FILES:
        if (Path(settings.DATA_DIR) / name).exists():
            create_private(directory / name)
            shutil.copyfile(Path(settings.DATA_DIR) / name, directory / name)
    (directory / "backup.json").write_text(json.dumps({
        "format": FORMAT, "created_at": timezone.now().isoformat(), "blobs": report.blobs, "bytes": report.bytes,
    }, indent=2) + "\n")
    return report


def backup_create(*, destination: Path, progress: Progress | None = None) -> BackupReport:
    """Write a backup of this registry into `destination` (absent or an empty directory),
    through `destination.partial`, renamed once complete."""
    _require_sqlite()
    progress = progress or (lambda phase, done, total: None)
    destination = Path(destination)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(f"{destination} is not empty")
    partial = destination.with_name(destination.name + ".partial")
    if partial.exists():
        raise BackupError(f"{partial} exists (an interrupted backup?): remove it first")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial.mkdir(mode=0o700)
    try:
        report = _write_backup(partial, destination, progress)
        os.replace(partial, destination)  # onto an empty directory too (POSIX rename)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    logger.info("backup done destination=%s blobs=%d bytes=%d dropped=%d",
                destination, report.blobs, report.bytes, len(report.dropped))
    return report


def _require_empty_target() -> None:
    tables = set(connection.introspection.table_names())
    if {Repository._meta.db_table, Blob._meta.db_table} <= tables and (
        Repository.objects.exists() or Blob.objects.exists()
    ):
        raise BackupError("the registry is not empty: restore onto a new data directory")
    if next(iter(get_storage().walk("blobs")), None) is not None:
        raise BackupError("blob storage is not empty: restore onto a new data directory")


def backup_restore(*, source: Path, progress: Progress | None = None) -> BackupReport:
    """Install the backup in `source` onto this (empty) registry."""
    _require_sqlite()
    progress = progress or (lambda phase, done, total: None)
    source = Path(source)
    try:
        meta = json.loads((source / "backup.json").read_text())
    except (OSError, ValueError):
        raise BackupError(f"{source} holds no backup (backup.json is missing or unreadable)") from None
    if meta.get("format") != FORMAT or not (source / DATABASE_FILE).is_file():
        raise BackupError(f"{source} is not a backup this version can restore")
    _require_empty_target()
    snapshot = sqlite3.connect(source / DATABASE_FILE)
    try:
        connection.ensure_connection()
        snapshot.backup(connection.connection)
    finally:
        snapshot.close()
    connection.close()  # the next query opens the restored database afresh
    report = BackupReport()
    # Sessions in progress at backup time: their staging areas are not in the backup, and
    # their digest claims would keep garbage collection and fsck off those digests.
    report.sessions_dropped, _ = Upload.objects.all().delete()
    BackupLease.objects.all().delete()
    backup_blobs = FilesystemStorage(source)
    rows = list(Blob.objects.order_by("digest").values_list("digest", flat=True))
    missing = []
    for done, digest in enumerate(rows, 1):
        try:
            report.bytes += _copy_blob(backup_blobs, get_storage(), digest)
            report.blobs += 1
        except (BlobNotFound, DigestMismatch):
            missing.append(digest)
        progress("blobs", done, len(rows))
    for name in KEY_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, Path(settings.DATA_DIR) / name)
    logger.info("restore done source=%s blobs=%d bytes=%d missing=%d sessions_dropped=%d",
                source, report.blobs, report.bytes, len(missing), report.sessions_dropped)
    if missing:
        raise BackupError(f"{len(missing)} blob(s) of the backup are missing or damaged: {', '.join(missing[:5])}")
    return report
