"""Purging abandoned uploads: old idle sessions and orphan staging areas go, the rest stays."""
from __future__ import annotations

import io
import os
import time
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from registry_api.models import RepositoryBlob, Upload
from registry_api.oci.errors import BlobUploadUnknown
from registry_api.services import gc, uploads as upload_service
from registry_api.services.fsck import fsck_run
from registry_api.services.upload_purge import upload_purge
from registry_api.services.uploads import upload_append, upload_commit, upload_start
from storage_backends import get_storage
from tests.builders import sha256

DAY = timedelta(hours=24)


def _staging(root, upload_id) -> str:
    return str(root / "uploads" / str(upload_id))


def _age(store, root, upload: Upload | None = None, staging_id: str | None = None, hours: int = 48) -> None:
    """Started (and last written) `hours` ago."""
    then = time.time() - hours * 3600
    if upload is not None:
        store.age_everything(hours * 3600)
        staging_id = str(upload.id)
    for path in (root / "uploads" / staging_id, root / "uploads" / staging_id / "data"):
        if path.exists():
            os.utime(path, (then, then))


def test_an_abandoned_session_goes_with_its_bytes(store, storage_root):
    upload = upload_start(repository_name="lib/app")
    upload_append(upload=upload, chunks=[b"x" * 1000])
    _age(store, storage_root, upload)

    report = upload_purge(older_than=DAY)

    assert report.sessions == [str(upload.id)] and report.bytes == 1000
    assert not Upload.objects.exists() and not os.path.exists(_staging(storage_root, upload.id))
    with pytest.raises(BlobUploadUnknown):  # the client's next chunk is told the session is gone
        upload_append(upload=upload, chunks=[b"y"])


def test_recent_and_still_active_sessions_stay(store, storage_root):
    recent = upload_start(repository_name="lib/app")
    slow = upload_start(repository_name="lib/app")
    store.age_everything(48 * 3600)  # both started two days ago…
    recent.refresh_from_db()
    upload_append(upload=slow, chunks=[b"still sending"])  # …but this one wrote a byte just now
    Upload.objects.filter(pk=recent.pk).update(started_at=recent.started_at + timedelta(hours=47))

    report = upload_purge(older_than=DAY)

    assert report.sessions == [] and Upload.objects.count() == 2
    data = b"done"
    upload_commit(upload=slow, digest=sha256(b"still sending" + data), chunks=[data])


def test_orphan_staging_areas_go_when_old(store, storage_root):
    old_orphan, new_orphan = str(uuid.uuid4()), str(uuid.uuid4())
    for orphan in (old_orphan, new_orphan):
        writer = get_storage().start_upload(orphan)
        writer.write(b"z" * 10)
        writer.close()
    _age(store, storage_root, staging_id=old_orphan)

    report = upload_purge(older_than=DAY)

    assert report.orphans == [old_orphan] and report.bytes == 10
    assert {item.name for item in get_storage().walk("uploads")} == {new_orphan}


def test_dry_run_removes_nothing(store, storage_root):
    upload = upload_start(repository_name="lib/app")
    _age(store, storage_root, upload)
    orphan = str(uuid.uuid4())
    get_storage().start_upload(orphan).close()
    _age(store, storage_root, staging_id=orphan)

    report = upload_purge(older_than=DAY, dry_run=True)

    assert report.sessions == [str(upload.id)] and report.orphans == [orphan]
    assert Upload.objects.count() == 1 and len(list(get_storage().walk("uploads"))) == 2


def test_command_takes_a_duration(store, storage_root):
    upload = upload_start(repository_name="lib/app")
    _age(store, storage_root, upload, hours=3)
    out = io.StringIO()
    call_command("purge_uploads", "--older-than", "2h", stdout=out)
    assert out.getvalue().startswith("removed 1 session(s) and 0 orphan staging area(s)")
    assert not Upload.objects.exists()


def test_a_session_committing_right_now_is_not_purged_under_its_commit(store, monkeypatch):
    """A day-long upload commits: its file is in place (no staging area left) and its row is
    next when purge and a collection run. Purging it would drop its claim on the digest and
    let the collection delete an old garbage row of it together with the file just moved."""
    data = b"layer " * 500
    store.push_blob("lib/old", data)
    RepositoryBlob.objects.all().delete()  # an old, unreferenced row of the same digest
    store.age_everything()
    upload = upload_start(repository_name="lib/new")
    upload_append(upload=upload, chunks=[data[:1000]])
    Upload.objects.filter(pk=upload.pk).update(started_at=timezone.now() - timedelta(hours=30))
    register, seen = upload_service.blob_register, {}

    def purge_and_collect_then_register(**kwargs):
        seen["purge"] = upload_purge(older_than=DAY)
        gc.gc_run(grace_period=timedelta(hours=1))
        return register(**kwargs)

    monkeypatch.setattr(upload_service, "blob_register", purge_and_collect_then_register)
    upload_commit(upload=upload, digest=sha256(data), chunks=[data[1000:]])

    assert seen["purge"].sessions == [] and seen["purge"].committing == [str(upload.id)]
    with get_storage().open(sha256(data)) as f:
        assert f.read() == data
    assert fsck_run().problems == []


def _dead_commit(store, storage_root, data: bytes, moved: bool) -> Upload:
    """A session whose process died a day ago while committing `data`, before or after its
    file was moved into place."""
    upload = upload_start(repository_name="lib/app")
    upload_append(upload=upload, chunks=[data])
    if moved:
        writer = get_storage().resume_upload(str(upload.id))
        writer.commit(sha256(data))
    _age(store, storage_root, upload, hours=30)
    Upload.objects.filter(pk=upload.pk).update(digest=sha256(data), claimed_at=timezone.now() - timedelta(hours=30))
    return upload


@pytest.mark.parametrize("moved", [False, True])
def test_a_dead_commit_is_purged_once_its_claim_is_stale(store, storage_root, moved):
    upload = _dead_commit(store, storage_root, b"half done", moved)

    report = upload_purge(older_than=DAY)

    assert report.sessions == [str(upload.id)] and not Upload.objects.exists()
    assert store.files() == set() and fsck_run().problems == []  # a moved file nobody registered goes too


def test_a_stale_claim_on_a_registered_blob_leaves_the_blob(store, storage_root):
    data = b"registered by another push"
    upload = _dead_commit(store, storage_root, data, moved=True)
    store.push_blob("lib/other", data)

    assert upload_purge(older_than=DAY).sessions == [str(upload.id)]
    assert store.files() == {sha256(data)} and fsck_run().problems == []


def test_a_commit_whose_session_ended_meanwhile_registers_nothing(store, monkeypatch):
    """Its claim went with the session (cancelled, purged, repository deleted) while its file
    was moving: a collection may have taken the file since, so no row may say it exists."""
    data = b"cancelled while committing"
    upload = upload_start(repository_name="lib/app")
    writer_class = type(get_storage().start_upload(str(uuid.uuid4())))
    real_commit = writer_class.commit

    def commit_then_cancel(self, digest):
        info = real_commit(self, digest)
        Upload.objects.filter(pk=upload.pk).delete()  # the client's DELETE, on another thread
        return info

    monkeypatch.setattr(writer_class, "commit", commit_then_cancel)
    with pytest.raises(BlobUploadUnknown):
        upload_commit(upload=upload, digest=sha256(data), chunks=[data])
    assert store.blobs() == set() and store.files() == set()
