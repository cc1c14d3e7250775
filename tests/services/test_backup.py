"""Backup and restore in-process: what a backup holds, restore onto an empty registry, and
the refusals. (tests/e2e/test_backup_restore.py does it to a live server, across data dirs.)"""
from __future__ import annotations

import io
import json
import sqlite3

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from registry_api.models import Blob, Manifest, Repository, RepositoryBlob, Tag
from registry_api.services import backup as backup_service
from registry_api.services.backup import BackupError, backup_create, backup_restore
from registry_api.services.fsck import fsck_run
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


def test_garbage_collected_during_the_backup_is_left_out(store, image, tmp_path, monkeypatch):
    stray = store.push_blob("lib/app", b"never referenced")
    real_copy = backup_service._copy_blob

    def collected_meanwhile(source, target, digest):
        if digest == stray:
            raise BlobNotFound(digest)
        return real_copy(source, target, digest)

    monkeypatch.setattr(backup_service, "_copy_blob", collected_meanwhile)
    report = backup_create(destination=tmp_path / "bk")

    assert report.dropped == [stray] and report.blobs == 3
    with sqlite3.connect(tmp_path / "bk" / "registry.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM registry_api_blob WHERE digest = ?", (stray,)).fetchone() == (0,)


def test_a_referenced_blob_missing_from_storage_fails_the_backup(image, tmp_path):
    get_storage().delete(image.layers[0].digest)
    with pytest.raises(BackupError, match="1 referenced blob"):
        backup_create(destination=tmp_path / "bk")


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
