"""The filesystem backend: the conformance suite, plus its documented layout and path safety."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import uuid

import pytest

from storage_backends import filesystem
from storage_backends.base import BlobNotFound, DigestMismatch, UploadNotFound
from storage_backends.filesystem import FilesystemStorage, FilesystemUploadWriter

from .conformance import DATA, DIGEST, StorageConformance, read_all


def _files(directory) -> list[str]:
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


class TestFilesystemStorage(StorageConformance):
    def make_storage(self, tmp_path):
        return FilesystemStorage(tmp_path / "data")

    def reopen(self, storage):
        return FilesystemStorage(storage.root)

    def staged_objects(self, storage):
        uploads = storage.root / "uploads"
        return sorted(str(p.relative_to(uploads)) for p in uploads.iterdir()) if uploads.exists() else []

    def blob_objects(self, storage):
        return _files(storage.root / "blobs")


@pytest.fixture
def storage(tmp_path):
    storage = FilesystemStorage(tmp_path)
    storage.check()
    return storage


def test_layout_is_content_addressed(storage, tmp_path):
    upload_id = str(uuid.uuid4())
    writer = storage.start_upload(upload_id)
    writer.write(DATA)
    writer.close()
    assert _files(tmp_path / "uploads") == [upload_id]
    writer = storage.resume_upload(upload_id)
    writer.commit(DIGEST)
    hexpart = DIGEST.split(":")[1]
    assert _files(tmp_path / "blobs") == [f"sha256/{hexpart[:2]}/{hexpart}"]
    assert _files(tmp_path / "uploads") == []


def test_from_settings_uses_the_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "elsewhere"
    assert FilesystemStorage.from_settings(settings).root == tmp_path / "elsewhere"


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:../../../etc/passwd",
        "sha256:" + "a" * 64 + "\n",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "md5:" + "a" * 32,
        "../" + "a" * 64,
    ],
)
def test_malformed_digests_never_become_paths(storage, digest):
    assert storage.stat(digest) is None
    with pytest.raises(BlobNotFound):
        storage.open(digest)
    with pytest.raises(BlobNotFound):
        storage.delete(digest)


@pytest.mark.parametrize("upload_id", ["../blobs", "..", "a/b", "not-a-uuid", ""])
def test_malformed_upload_ids_never_become_paths(storage, upload_id):
    with pytest.raises(UploadNotFound):
        storage.resume_upload(upload_id)
    with pytest.raises(UploadNotFound):
        storage.upload_size(upload_id)


def test_a_chunk_received_in_this_process_is_hashed_only_once(storage, monkeypatch):
    def no_rehash(*args):
        raise AssertionError("the staged file was hashed again")

    upload_id = str(uuid.uuid4())
    writer = storage.start_upload(upload_id)
    writer.write(DATA[:100])
    writer.close()
    writer = storage.resume_upload(upload_id)
    writer.write(DATA[100:])
    monkeypatch.setattr(filesystem, "_hash_file", no_rehash)
    assert writer.commit(DIGEST).size == len(DATA)


def test_a_session_continued_in_another_process_is_rehashed(storage, monkeypatch):
    calls = []
    real = filesystem._hash_file
    monkeypatch.setattr(filesystem, "_hash_file", lambda *a: calls.append(a) or real(*a))
    upload_id = str(uuid.uuid4())
    writer = storage.start_upload(upload_id)
    writer.write(DATA[:100])
    writer.close()
    writer = FilesystemStorage(storage.root).resume_upload(upload_id)
    writer.write(DATA[100:])
    assert writer.commit(DIGEST).size == len(DATA)
    assert len(calls) == 1
    assert read_all(storage.open(DIGEST)) == DATA


def test_walk_ignores_files_that_are_not_blobs_or_sessions(storage, tmp_path):
    (tmp_path / "blobs" / "sha256" / "ab").mkdir(parents=True)
    (tmp_path / "blobs" / "sha256" / "ab" / "not-a-digest").write_bytes(b"x")
    (tmp_path / "blobs" / "sha256" / "ab" / ("cd" + "0" * 62)).write_bytes(b"x")  # wrong directory
    (tmp_path / "uploads" / "not-a-uuid").mkdir(parents=True)
    assert list(storage.walk("blobs")) == [] and list(storage.walk("uploads")) == []


@pytest.fixture
def private_umask():
    """The umask deploy/registry.service sets: nothing the process creates is group-readable."""
    previous = os.umask(0o077)
    yield
    os.umask(previous)


def test_blobs_are_group_readable_and_staging_is_not(tmp_path, private_umask):
    """nginx, in the registry's group, sends blob files itself (X-Accel-Redirect); it needs
    them and their directories group-readable whatever the umask, and nothing else."""
    storage = FilesystemStorage(tmp_path)
    storage.check()
    writer = storage.start_upload(str(uuid.uuid4()))
    writer.write(DATA)
    assert stat.S_IMODE((tmp_path / "uploads").stat().st_mode) == 0o700
    assert stat.S_IMODE(next((tmp_path / "uploads").iterdir()).stat().st_mode) == 0o600  # the staging file
    writer.commit(DIGEST)
    hexpart = DIGEST.split(":", 1)[1]
    blob = tmp_path / "blobs" / "sha256" / hexpart[:2] / hexpart
    assert stat.S_IMODE(blob.stat().st_mode) == 0o640
    for directory in (blob.parent, blob.parent.parent, tmp_path / "blobs"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o750, directory


def test_a_blob_directory_removed_behind_the_process_is_made_again(storage, tmp_path):
    """The process remembers which blob directories it prepared; an operator tidying empty
    directories away must not make the next commit into one fail."""
    def push(data: bytes) -> str:
        upload_id = str(uuid.uuid4())
        writer = storage.start_upload(upload_id)
        writer.write(data)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        writer.commit(digest)
        return digest

    first = push(DATA)
    storage.delete(first)
    (tmp_path / "blobs" / "sha256" / first[7:9]).rmdir()
    again = push(DATA)
    assert read_all(storage.open(again)) == DATA
    assert _files(tmp_path / "uploads") == []


def test_the_disk_write_of_staged_bytes_starts_while_the_upload_arrives(storage, monkeypatch):
    """Every WRITEBACK_STEP staged bytes, the range not yet handed over goes to the kernel;
    bytes cut off again by a refused chunk are handed over anew when written again."""
    from storage_backends import writeback

    ranges = []
    monkeypatch.setattr(filesystem, "WRITEBACK_STEP", 1000)
    monkeypatch.setattr(filesystem, "start_writeback", lambda fd, offset, length: ranges.append((offset, length)))
    writer = storage.start_upload(str(uuid.uuid4()))
    for _ in range(5):
        writer.write(b"x" * 400)
    assert ranges == [(0, 1200)]
    writer.truncate(1000)
    writer.write(b"y" * 1000)
    assert ranges == [(0, 1200), (1000, 1000)]
    writer.close()
    # The real call, on a real file: the C library's sync_file_range takes it (Linux).
    with open(storage.root / "probe", "wb") as f:
        f.write(b"z" * 4096)
        assert writeback.start_writeback(f.fileno(), 0, 4096) is (writeback._sync_file_range is not None)
        assert writeback.start_writeback(f.fileno(), 0, 0) is False


def _staged_by_an_earlier_version(tmp_path, data: bytes) -> str:
    """A session as versions before 2026-12 staged it: `uploads/<uuid>/data`."""
    upload_id = str(uuid.uuid4())
    (tmp_path / "uploads" / upload_id).mkdir(parents=True)
    (tmp_path / "uploads" / upload_id / "data").write_bytes(data)
    return upload_id


def test_a_session_staged_by_an_earlier_version_goes_on_and_commits(storage, tmp_path):
    upload_id = _staged_by_an_earlier_version(tmp_path, DATA[:10])
    assert storage.upload_size(upload_id) == 10
    assert [(item.name, item.size) for item in storage.walk("uploads")] == [(upload_id, 10)]
    with storage.open_upload(upload_id) as f:
        assert f.read() == DATA[:10]
    writer = storage.resume_upload(upload_id)
    writer.write(DATA[10:])
    writer.close()
    writer = storage.resume_upload(upload_id)
    assert writer.commit(DIGEST).size == len(DATA)
    assert _files(tmp_path / "uploads") == [] and not (tmp_path / "uploads" / upload_id).exists()
    with storage.open(DIGEST) as f:
        assert f.read() == DATA


def test_a_session_staged_by_an_earlier_version_is_cancelled_with_its_directory(storage, tmp_path):
    upload_id = _staged_by_an_earlier_version(tmp_path, DATA)
    storage.cancel_upload(upload_id)
    assert list((tmp_path / "uploads").iterdir()) == []
    with pytest.raises(UploadNotFound):
        storage.resume_upload(upload_id)


def test_a_staging_file_cancelled_before_the_writer_opens_it_is_not_made_again(storage, tmp_path):
    upload_id = str(uuid.uuid4())
    storage.start_upload(upload_id).close()
    path = tmp_path / "uploads" / upload_id
    path.unlink()  # cancelled by another process between the lookup and the open
    with pytest.raises(FileNotFoundError):
        FilesystemUploadWriter(storage, upload_id, path, None, "sha256")
    assert not path.exists()
    with pytest.raises(UploadNotFound):
        storage.resume_upload(upload_id)


def test_a_session_starts_even_after_the_uploads_directory_was_removed(storage, tmp_path):
    shutil.rmtree(tmp_path / "uploads")
    upload_id = str(uuid.uuid4())
    storage.start_upload(upload_id).close()
    assert storage.upload_size(upload_id) == 0


def test_a_blob_whose_digest_does_not_match_is_dropped_without_a_flush(storage, monkeypatch):
    """The digest is checked before the disk is asked to make anything durable: a wrong
    push costs no fdatasync, and a right one exactly one, before its rename."""
    flushed = []
    real = os.fdatasync
    monkeypatch.setattr(filesystem.os, "fdatasync", lambda fd: flushed.append(fd) or real(fd))
    upload_id = str(uuid.uuid4())
    writer = storage.start_upload(upload_id)
    writer.write(DATA)
    with pytest.raises(DigestMismatch):
        writer.commit("sha256:" + "0" * 64)
    assert flushed == [] and storage.stat(DIGEST) is None
    writer = storage.start_upload(str(uuid.uuid4()))
    writer.write(DATA)
    assert writer.commit(DIGEST).size == len(DATA)
    assert len(flushed) == 1 and read_all(storage.open(DIGEST)) == DATA
