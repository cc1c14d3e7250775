"""Purging abandoned uploads: old idle sessions and orphan staging areas go, the rest stays."""
from __future__ import annotations

import io
import os
import time
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command

from registry_api.errors import BlobUploadUnknown
from registry_api.models import Upload
from registry_api.services.uploads import upload_append, upload_commit, upload_purge, upload_start
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
