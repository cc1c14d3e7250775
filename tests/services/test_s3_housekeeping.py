"""Garbage collection, fsck, upload purge and backup with blobs in S3 (moto's real server):
housekeeping goes through the storage protocol only, so it works the same on a bucket."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection

from registry_api.models import Blob, Repository, Upload
from registry_api.services import fsck
from registry_api.services.backup import backup_create, backup_restore
from registry_api.services.gc import gc_run
from registry_api.services.manifests import manifest_delete
from registry_api.services.upload_purge import upload_purge
from registry_api.services.uploads import upload_append, upload_start
from storage_backends.filesystem import FilesystemStorage
from tests import builders

NOW = timedelta(0)


@pytest.fixture(autouse=True)
def bucket(s3_storage):
    return s3_storage


def _objects(storage) -> set[str]:
    return {item.name for item in storage.walk("blobs")}


def _put_raw(storage, digest: str, data: bytes) -> None:
    """Write an object behind the registry's back (a crash, an operator's mistake)."""
    storage._client.put_object(Bucket=storage.bucket, Key=storage._blob_key(digest), Body=data)


def test_gc_deletes_the_objects_of_an_untagged_image(store, bucket):
    img = builders.image("app")
    store.push_image("lib/app", "v1", img)
    keep = builders.image("keep")
    store.push_image("lib/keep", "v1", keep)
    assert _objects(bucket) == {b.digest for b in img.blobs + keep.blobs}
    manifest_delete(repository_name="lib/app", reference="v1")

    report = gc_run(delete_untagged=True, grace_period=NOW)

    assert report.blobs_deleted == len(img.blobs) and report.files_left == []
    assert _objects(bucket) == {b.digest for b in keep.blobs}
    assert store.blobs() == {b.digest for b in keep.blobs}


def test_fsck_of_a_sound_bucket_is_clean_and_hashes_every_object(store, bucket):
    img = builders.image("app")
    store.push_image("lib/app", "v1", img)
    report = fsck.fsck_run()
    assert report.problems == [] and report.bytes_checked == sum(len(b.data) for b in img.blobs)


def test_fsck_finds_damaged_missing_and_orphan_objects(store, bucket):
    img = builders.image("app")
    store.push_image("lib/app", "v1", img)
    first, second = img.layers
    _put_raw(bucket, first.digest, first.data[:-1])
    _put_raw(bucket, second.digest, bytes(len(second.data)))
    unused = store.push_blob("lib/app", b"pushed, never referenced")
    bucket.delete(unused)
    orphan = builders.sha256(b"left by a crash")
    _put_raw(bucket, orphan, b"left by a crash")

    problems = {p.digest: p for p in fsck.fsck_run(repair=True, grace_period=NOW).problems}

    assert problems[first.digest].kind == "wrong size"
    assert problems[second.digest].kind == "wrong digest"
    assert problems[unused].kind == "missing file" and problems[unused].repaired
    assert problems[orphan].kind == "orphan file" and problems[orphan].repaired == "file deleted"
    assert not Blob.objects.filter(digest=unused).exists() and bucket.stat(orphan) is None


def test_purge_drops_stale_sessions_with_their_parts(store, bucket):
    upload = upload_start(repository_name="lib/app")
    upload_append(upload=upload, chunks=[b"x" * (5 * 1024 * 1024 + 10)])  # one part and a tail
    orphan = str(uuid.uuid4())
    bucket.start_upload(orphan).close()
    store.age_everything()

    report = upload_purge(older_than=NOW)

    assert report.sessions == [str(upload.id)] and report.orphans == [orphan]
    assert report.bytes == 5 * 1024 * 1024 + 10
    assert not Upload.objects.exists() and list(bucket.walk("uploads")) == []
    assert list(bucket._multipart_uploads("")) == []


@pytest.mark.django_db(transaction=True)  # a restore replaces the whole database
def test_backup_copies_blobs_out_of_the_bucket_and_restore_puts_them_back(store, bucket, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("backup handles SQLite; PostgreSQL is backed up with pg_dump")
    img = builders.image("app")
    store.push_image("lib/app", "v1", img)

    report = backup_create(destination=tmp_path / "backup")

    assert report.blobs == len(img.blobs)
    assert _objects(FilesystemStorage(tmp_path / "backup")) == {b.digest for b in img.blobs}
    for blob in img.blobs:
        bucket.delete(blob.digest)
    Repository.objects.all().delete()
    Blob.objects.all().delete()
    backup_restore(source=tmp_path / "backup")
    assert _objects(bucket) == {b.digest for b in img.blobs}
    assert fsck.fsck_run().problems == []
