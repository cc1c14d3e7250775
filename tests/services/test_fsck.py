"""fsck: every row has its file, of the right size and digest; orphans both ways; what
--repair fixes and what it leaves for a backup."""
from __future__ import annotations

import io
import os
import time

import pytest
from django.core.management import CommandError, call_command

from registry_api.models import Blob, RepositoryBlob, Upload
from registry_api.services import fsck
from registry_api.services.uploads import upload_start
from storage_backends import get_storage
from tests import builders


def _path(root, digest: str):
    hexpart = digest.split(":", 1)[1]
    return root / "blobs" / "sha256" / hexpart[:2] / hexpart


def _orphan(root, data: bytes, hours_old: int = 2) -> str:
    digest = builders.sha256(data)
    path = _path(root, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    then = time.time() - hours_old * 3600
    os.utime(path, (then, then))
    return digest


@pytest.fixture
def image(store):
    img = builders.image("app")
    store.push_image("lib/app", "v1", img)
    return img


def test_a_sound_registry_is_clean(image):
    report = fsck.fsck_run()
    assert report.problems == []
    assert report.blobs_checked == 3 and report.bytes_checked == sum(len(b.data) for b in image.blobs)


def test_wrong_size_and_wrong_content_are_reported(image, storage_root):
    first, second = image.layers
    _path(storage_root, first.digest).write_bytes(first.data[:-1])
    _path(storage_root, second.digest).write_bytes(bytes(len(second.data)))

    problems = {p.digest: p for p in fsck.fsck_run(repair=True).problems}

    assert problems[first.digest].kind == "wrong size" and not problems[first.digest].repaired
    assert problems[second.digest].kind == "wrong digest" and not problems[second.digest].repaired
    # --quick compares sizes only.
    assert [p.digest for p in fsck.fsck_run(verify_digests=False).problems] == [first.digest]


def test_files_are_hashed_block_by_block(store, monkeypatch):
    data = os.urandom(3 * fsck.READ_BLOCK + 5)
    store.push_blob("lib/big", data)
    reads = []
    real_open = get_storage().open

    class RecordingStream:
        def __init__(self, stream) -> None:
            self.stream = stream

        def read(self, n=-1) -> bytes:
            reads.append(n)
            return self.stream.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.stream.close()

    def recording_open(digest, offset=0):
        return RecordingStream(real_open(digest, offset))

    monkeypatch.setattr(get_storage(), "open", recording_open)
    assert fsck.fsck_run().problems == []
    assert reads and all(0 < n <= fsck.READ_BLOCK for n in reads)


def test_a_missing_file_of_an_unreferenced_blob_is_repaired_by_dropping_the_row(store, storage_root):
    digest = store.push_blob("lib/app", b"layer nobody uses yet")
    _path(storage_root, digest).unlink()

    report = fsck.fsck_run(repair=True)

    assert [(p.kind, p.digest) for p in report.problems] == [("missing file", digest)]
    assert report.problems[0].repaired.startswith("row and its repository links deleted")
    assert not Blob.objects.filter(digest=digest).exists() and not RepositoryBlob.objects.exists()
    assert fsck.fsck_run().problems == []


def test_a_missing_file_that_manifests_need_is_only_reported(image, storage_root):
    _path(storage_root, image.config.digest).unlink()

    report = fsck.fsck_run(repair=True)

    assert report.unrepaired == report.problems and len(report.problems) == 1
    assert "referenced by 1 manifest(s), e.g. lib/app@" in report.problems[0].detail
    assert Blob.objects.filter(digest=image.config.digest).exists()


def test_orphan_files_are_reported_and_repair_deletes_them(image, storage_root):
    orphan = _orphan(storage_root, b"left by a crash")

    assert [(p.kind, p.digest) for p in fsck.fsck_run().problems] == [("orphan file", orphan)]
    report = fsck.fsck_run(repair=True)
    assert report.problems[0].repaired == "file deleted" and not _path(storage_root, orphan).exists()
    assert fsck.fsck_run().problems == []


def test_a_file_an_upload_is_registering_is_no_orphan(store, storage_root):
    young = _orphan(storage_root, b"just moved into place", hours_old=0)
    committing = _orphan(storage_root, b"moved into place a while ago")
    Upload.objects.filter(pk=upload_start(repository_name="lib/app").pk).update(digest=committing)

    assert fsck.fsck_run(repair=True).problems == []
    assert _path(storage_root, young).exists() and _path(storage_root, committing).exists()


def test_command_fails_while_problems_remain_and_says_what_it_repaired(image, storage_root):
    orphan = _orphan(storage_root, b"stray")
    _path(storage_root, image.config.digest).unlink()
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("fsck", "--repair", stdout=out)
    text = out.getvalue()
    assert f"orphan file: {orphan}: 5 bytes on disk, no row -> file deleted" in text
    assert f"missing file: {image.config.digest}" in text and "restore it from a backup" in text
    assert "2 problem(s), 1 repaired" in text


def test_command_on_a_clean_registry(image):
    out = io.StringIO()
    call_command("fsck", stdout=out)
    assert out.getvalue().strip().endswith("digests verified: 0 problem(s), 0 repaired")
