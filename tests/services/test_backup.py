"""Backup and restore in-process: what a backup holds, restore onto an empty registry, and
the refusals. (tests/e2e/test_backup_restore.py does it to a live server, across data dirs.)"""
from __future__ import annotations

import io
import json
import sqlite3
import stat
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from registry_api.models import BackupLease, Blob, Manifest, Repository, RepositoryBlob, Tag, Upload
from registry_api.services import backup as backup_service, gc
from registry_api.services.backup import BackupError, backup_create, backup_restore
from registry_api.services.fsck import fsck_run
from registry_api.services.manifests import manifest_delete
from registry_api.services.uploads import upload_append, upload_start
from storage_backends import get_storage
from storage_backends.base import BlobNotFound
from tests import builders

pytestmark = [
    pytest.mark.django_db(transaction=True),  # a restore replaces the whole database
    pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
                       reason="backup handles SQLite; PostgreSQL is backed up with pg_dump"),
]


@pytest.fixture
def image(store):
    img = builders.image("app")
    store.push_image("lib/app", "v1", img)
    return img


def _wipe() -> None:
    """What a new data directory holds: no registry rows, no blob files."""
    for digest in Blob.objects.values_list("digest", flat=True):
        get_storage().delete(digest)
    Repository.objects.all().delete()
    Blob.objects.all().delete()


def test_a_backup_holds_the_snapshot_and_every_referenced_blob(image, tmp_path, storage_root):
    (storage_root / "token_key.pem").write_text("key")
    report = backup_create(destination=tmp_path / "bk")

    assert report.blobs == 3 and report.bytes == sum(len(b.data) for b in image.blobs)
    meta = json.loads((tmp_path / "bk" / "backup.json").read_text())
    assert meta["format"] == 1 and meta["blobs"] == 3
    with sqlite3.connect(tmp_path / "bk" / "registry.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM registry_api_tag").fetchone() == (1,)
    for blob in image.blobs:
        hexpart = blob.digest.split(":")[1]
        assert (tmp_path / "bk" / "blobs" / "sha256" / hexpart[:2] / hexpart).read_bytes() == blob.data
    assert (tmp_path / "bk" / "token_key.pem").read_text() == "key"
    assert not (tmp_path / "bk" / "uploads").exists()
    # Password hashes, keys and private images: for the registry's user only.
    assert stat.S_IMODE((tmp_path / "bk").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "bk" / "registry.sqlite3").stat().st_mode) == 0o600


def test_restore_onto_an_empty_registry_brings_everything_back_and_fsck_is_clean(image, tmp_path):
    backup_create(destination=tmp_path / "bk")
    _wipe()

    out = io.StringIO()
    call_command("restore", str(tmp_path / "bk"), stdout=out)

    assert "fsck: 3 blob(s) verified, no problems" in out.getvalue()
    assert Tag.objects.get().manifest.digest == image.manifest.digest
    assert bytes(Manifest.objects.get().payload) == image.manifest.data
    for blob in image.blobs:
        with get_storage().open(blob.digest) as f:
            assert f.read() == blob.data
    assert fsck_run().problems == []


def test_gc_between_the_snapshot_and_the_blob_copy_deletes_no_blob(store, image, tmp_path, monkeypatch):
    """A tag is deleted and a collection runs right after the snapshot: the snapshot still
    names that image, so its blobs must still be there when the backup copies them."""
    old = builders.image("old")
    store.push_image("lib/app", "old", old)
    store.age_everything()
    real_snapshot, runs = backup_service._snapshot, []

    def snapshot_then_collect(path):
        real_snapshot(path)
        manifest_delete(repository_name="lib/app", reference="old")
        runs.append(gc.gc_run(delete_untagged=True, grace_period=timedelta(0)))

    monkeypatch.setattr(backup_service, "_snapshot", snapshot_then_collect)
    report = backup_create(destination=tmp_path / "bk")

    assert report.blobs == 6 and report.dropped == []
    assert runs[0].manifests_deleted == 1 and runs[0].blobs_deleted == 0 and runs[0].blobs_deferred == 3
    assert "backup to" in runs[0].deferred_because
    # The next collection, after the backup, frees them; the backup restores whole.
    assert gc.gc_run(delete_untagged=True, grace_period=timedelta(0)).blobs_deleted == 3
    _wipe()
    backup_restore(source=tmp_path / "bk")
    assert set(Tag.objects.values_list("name", flat=True)) == {"v1", "old"}
    assert fsck_run().problems == []


def test_a_lease_left_by_a_killed_backup_stops_blocking_gc(store, image):
    manifest_delete(repository_name="lib/app", reference="v1")
    BackupLease.objects.create(destination="/gone", heartbeat_at=timezone.now() - timedelta(hours=1))
    assert gc.gc_run(delete_untagged=True, grace_period=timedelta(0)).blobs_deleted == 3


def test_an_unreferenced_row_whose_file_is_gone_is_left_out(store, image, tmp_path, monkeypatch):
    stray = store.push_blob("lib/app", b"never referenced")
    real_copy = backup_service._copy_blob

    def collected_meanwhile(source, target, digest, lease=None):
        if digest == stray:
            raise BlobNotFound(digest)
        return real_copy(source, target, digest, lease)

    monkeypatch.setattr(backup_service, "_copy_blob", collected_meanwhile)
    report = backup_create(destination=tmp_path / "bk")

    assert report.dropped == [stray] and report.blobs == 3
    with sqlite3.connect(tmp_path / "bk" / "registry.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM registry_api_blob WHERE digest = ?", (stray,)).fetchone() == (0,)


def test_a_referenced_blob_missing_from_storage_fails_the_backup_and_leaves_nothing(image, tmp_path):
    get_storage().delete(image.layers[0].digest)
    with pytest.raises(BackupError, match="1 referenced blob"):
        backup_create(destination=tmp_path / "bk")
    assert not (tmp_path / "bk").exists() and not (tmp_path / "bk.partial").exists()
    assert not BackupLease.objects.exists()


def test_the_database_copy_and_the_keys_are_private(image, tmp_path, storage_root):
    (storage_root / "token_key.pem").write_text("key")
    (tmp_path / "bk").mkdir()  # an empty directory is fine too
    backup_create(destination=tmp_path / "bk")
    assert (tmp_path / "bk" / "registry.sqlite3").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "bk" / "token_key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "bk").stat().st_mode & 0o077 == 0


def test_restore_drops_the_upload_sessions_of_the_snapshot(store, image, tmp_path):
    upload = upload_start(repository_name="lib/app")
    upload_append(upload=upload, chunks=[b"half a layer"])
    Upload.objects.filter(pk=upload.pk).update(digest=builders.sha256(b"a layer"))  # committing at backup time
    backup_create(destination=tmp_path / "bk")
    _wipe()
    out = io.StringIO()
    call_command("restore", str(tmp_path / "bk"), stdout=out)
    assert "dropped 1 upload session(s) in progress at backup time" in out.getvalue()
    assert not Upload.objects.exists() and not BackupLease.objects.exists()


def test_backup_refuses_a_non_empty_destination(image, tmp_path):
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "something").write_text("x")
    with pytest.raises(CommandError, match="is not empty"):
        call_command("backup", str(tmp_path / "bk"), stdout=io.StringIO())


def test_restore_refuses_a_registry_with_content(image, tmp_path):
    backup_create(destination=tmp_path / "bk")
    with pytest.raises(BackupError, match="not empty"):
        backup_restore(source=tmp_path / "bk")
    assert RepositoryBlob.objects.count() == 3  # untouched


def test_restore_refuses_what_is_not_a_backup(db, tmp_path):
    with pytest.raises(BackupError, match="holds no backup"):
        backup_restore(source=tmp_path)


def test_gc_pause_holds_the_lease_while_its_command_runs(db, monkeypatch):
    """The PostgreSQL procedure: pg_dump and the copy of blobs/ run inside `gc_pause`."""
    from registry_api.management.commands import gc_pause
    from registry_api.services.backup_lease import backup_lease_active

    seen = []

    class Process:
        def __init__(self, argv):
            self.argv, self.returncode = argv, None

        def poll(self):
            seen.append((self.argv, backup_lease_active() is not None))
            if len(seen) == 2:
                self.returncode = 0 if self.argv[0] == "pg_dump" else 3
            return self.returncode

    monkeypatch.setattr(gc_pause.subprocess, "Popen", Process)
    monkeypatch.setattr(gc_pause, "POLL_SECONDS", 0)
    call_command("gc_pause", "--", "pg_dump", "-f", "x", stdout=io.StringIO())
    assert seen == [(["pg_dump", "-f", "x"], True)] * 2 and not BackupLease.objects.exists()
    seen.clear()
    with pytest.raises(CommandError, match="rsync exited with status 3"):
        call_command("gc_pause", "--", "rsync", stdout=io.StringIO())
    assert not BackupLease.objects.exists()
