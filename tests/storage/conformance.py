"""The behaviour every blob storage backend must have (like distribution's testsuites.go).

A backend's test module subclasses `StorageConformance` as `Test<Backend>` and says how to
build an instance, how to open a second instance over the same data (another process),
and what it has staged or stored, so "nothing is left behind" can be checked.
"""
from __future__ import annotations

import hashlib
import threading
import time
import uuid

import pytest

from storage_backends.base import BlobInfo, BlobNotFound, DigestMismatch, InvalidOffset, UploadNotFound

DATA = bytes(range(256)) * 64  # 16 KiB
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def new_id() -> str:
    return str(uuid.uuid4())


def read_all(stream) -> bytes:
    with stream:
        return stream.read()


def big(size: int, seed: bytes = b"layer") -> bytes:
    block = hashlib.sha512(seed).digest()
    return (block * (size // len(block) + 1))[:size]


def write(writer, data: bytes, chunk: int) -> None:
    for i in range(0, len(data), chunk):
        writer.write(data[i:i + chunk])


class StorageConformance:
    # Bytes in one of the backend's own units (a read block, an S3 part, an Azure ranged GET).
    unit = 1024 * 1024

    # --- what a backend's test class provides ----------------------------------------------
    def make_storage(self, tmp_path):
        raise NotImplementedError

    def reopen(self, storage):
        """A second, independent instance over the same data, as another process would have."""
        raise NotImplementedError

    def staged_objects(self, storage) -> list:
        """Whatever upload staging the backend still holds (files, multipart uploads…)."""
        raise NotImplementedError

    def blob_objects(self, storage) -> list:
        """Every stored blob object."""
        raise NotImplementedError

    # --- fixtures and helpers ----------------------------------------------------------------
    @pytest.fixture
    def storage(self, tmp_path):
        storage = self.make_storage(tmp_path)
        storage.check()
        return storage

    def upload(self, storage, data: bytes, chunk: int = 4096) -> str:
        upload_id = new_id()
        writer = storage.start_upload(upload_id)
        for i in range(0, len(data), chunk):
            writer.write(data[i : i + chunk])
        writer.close()
        return upload_id

    def commit(self, storage, upload_id: str, digest: str) -> BlobInfo:
        writer = storage.resume_upload(upload_id)
        try:
            return writer.commit(digest)
        finally:
            writer.close()

    # --- write and read -----------------------------------------------------------------------
    def test_write_commit_and_read(self, storage):
        writer = storage.start_upload(new_id())
        for i in range(0, len(DATA), 1000):
            writer.write(DATA[i : i + 1000])
        assert writer.size == len(DATA)
        assert writer.commit(DIGEST) == BlobInfo(size=len(DATA))
        writer.close()
        assert read_all(storage.open(DIGEST)) == DATA
        assert storage.stat(DIGEST) == BlobInfo(size=len(DATA))
        assert self.staged_objects(storage) == []

    def test_empty_blob(self, storage):
        digest = digest_of(b"")
        assert self.commit(storage, self.upload(storage, b""), digest).size == 0
        assert read_all(storage.open(digest)) == b""

    def test_sha512_blob(self, storage):
        digest = digest_of(DATA, "sha512")
        assert self.commit(storage, self.upload(storage, DATA), digest).size == len(DATA)
        assert read_all(storage.open(digest)) == DATA

    def test_blob_of_several_read_blocks(self, storage):
        data = hashlib.sha256(b"seed").digest() * 100_000  # 3.2 MB
        upload_id = self.upload(storage, data, chunk=700_000)
        self.commit(self.reopen(storage), upload_id, digest_of(data))
        assert read_all(storage.open(digest_of(data))) == data

    @pytest.mark.parametrize("offset", [0, 1, 255, 4096, len(DATA) - 1, len(DATA)])
    def test_read_at_offset(self, storage, offset):
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        assert read_all(storage.open(DIGEST, offset)) == DATA[offset:]

    def test_reads_from_offsets_around_a_unit_edge(self, storage):
        """Each read streams the rest, whichever of the backend's units it starts in."""
        data = big(2 * self.unit + 3)
        writer = storage.start_upload(new_id())
        write(writer, data, 1024 * 1024)
        writer.commit(digest_of(data))
        for offset in (1, self.unit - 1, self.unit, len(data) - 1, len(data)):
            with storage.open(digest_of(data), offset) as stream:
                assert stream.read(10) == data[offset : offset + 10]
                assert stream.read() == data[offset + 10 :]

    def test_read_past_the_end_is_invalid_offset(self, storage):
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        with pytest.raises(InvalidOffset):
            storage.open(DIGEST, len(DATA) + 1)

    def test_missing_blob(self, storage):
        assert storage.stat(DIGEST) is None
        with pytest.raises(BlobNotFound):
            storage.open(DIGEST)

    def test_redirect_url_is_none_or_a_url(self, storage):
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        url = storage.redirect_url(DIGEST)
        assert url is None or url.startswith(("http://", "https://"))

    # --- sessions across instances ----------------------------------------------------------------
    def test_append_after_reopen(self, storage):
        upload_id = self.upload(storage, DATA[:5000])
        other = self.reopen(storage)
        assert other.upload_size(upload_id) == 5000
        writer = other.resume_upload(upload_id)
        assert writer.size == 5000
        writer.write(DATA[5000:])
        writer.close()
        assert storage.upload_size(upload_id) == len(DATA)
        assert self.commit(storage, upload_id, DIGEST).size == len(DATA)
        assert read_all(other.open(DIGEST)) == DATA

    def test_append_after_reopen_in_the_same_instance(self, storage):
        upload_id = self.upload(storage, DATA[:100])
        writer = storage.resume_upload(upload_id)
        writer.write(DATA[100:])
        assert writer.commit(DIGEST).size == len(DATA)

    def test_chunks_alternating_between_instances_still_verify(self, storage):
        other = self.reopen(storage)
        upload_id = self.upload(storage, DATA[:1000])
        for i, instance in enumerate([other, storage, other, storage]):
            writer = instance.resume_upload(upload_id)
            writer.write(DATA[1000 + i * 1000 : 2000 + i * 1000])
            writer.close()
        writer = storage.resume_upload(upload_id)
        writer.write(DATA[5000:])
        assert writer.commit(DIGEST).size == len(DATA)

    def test_reopened_session_with_wrong_content_fails_the_digest(self, storage):
        upload_id = self.upload(storage, DATA[:5000])
        writer = self.reopen(storage).resume_upload(upload_id)
        writer.write(b"not the rest")
        with pytest.raises(DigestMismatch):
            writer.commit(DIGEST)

    def test_staged_bytes_can_be_followed_through_the_commit(self, storage):
        if not hasattr(storage, "open_upload"):
            pytest.skip("optional: this backend cannot read staged bytes")
        upload_id = new_id()
        writer = storage.start_upload(upload_id)
        writer.write(DATA[:1000])
        follower = self.reopen(storage).open_upload(upload_id)
        assert follower.read(5000) == DATA[:1000]
        writer.write(DATA[1000:])
        assert writer.commit(DIGEST).size == len(DATA)
        writer.close()
        assert DATA[:1000] + read_all(follower) == DATA
        with pytest.raises(UploadNotFound):
            storage.open_upload(upload_id)

    def test_unknown_session(self, storage):
        with pytest.raises(UploadNotFound):
            storage.resume_upload(new_id())
        with pytest.raises(UploadNotFound):
            storage.upload_size(new_id())

    # --- verification ----------------------------------------------------------------------------
    @pytest.mark.parametrize("reopened", [False, True])
    def test_wrong_digest_commit_leaves_nothing(self, storage, reopened):
        upload_id = self.upload(storage, DATA)
        instance = self.reopen(storage) if reopened else storage
        wrong = digest_of(b"something else")
        with pytest.raises(DigestMismatch) as info:
            self.commit(instance, upload_id, wrong)
        assert info.value.expected == wrong
        assert info.value.actual == DIGEST
        assert storage.stat(wrong) is None
        assert storage.stat(DIGEST) is None
        assert self.blob_objects(storage) == []
        assert self.staged_objects(storage) == []
        with pytest.raises(UploadNotFound):
            storage.upload_size(upload_id)

    # --- refused chunks (truncate) ------------------------------------------------------------
    def test_truncate_drops_a_refused_chunk(self, storage):
        upload_id = self.upload(storage, DATA[:5000])
        writer = storage.resume_upload(upload_id)
        writer.write(b"a chunk the registry refused")
        writer.truncate(5000)
        assert writer.size == 5000
        writer.close()
        other = self.reopen(storage)
        assert other.upload_size(upload_id) == 5000
        writer = other.resume_upload(upload_id)
        writer.write(DATA[5000:])
        assert writer.commit(DIGEST).size == len(DATA)
        assert read_all(storage.open(DIGEST)) == DATA

    def test_truncate_then_write_in_the_same_writer_still_verifies(self, storage):
        """The running hash saw the dropped bytes: the commit must not trust it."""
        writer = storage.start_upload(new_id())
        writer.write(DATA[:100])
        writer.write(b"x" * 50)
        writer.truncate(100)
        writer.write(DATA[100:])
        assert writer.commit(DIGEST).size == len(DATA)
        with pytest.raises(DigestMismatch):
            writer = storage.start_upload(new_id())
            writer.write(DATA[:100] + b"x" * 50)
            writer.truncate(100)
            writer.write(DATA[100:] + b"y")
            writer.commit(DIGEST)

    def test_truncate_to_the_current_size_is_a_no_op(self, storage):
        writer = storage.start_upload(new_id())
        writer.write(DATA)
        writer.truncate(len(DATA))
        assert writer.commit(DIGEST).size == len(DATA)

    @pytest.mark.parametrize("size", [-1, len(DATA) + 1])
    def test_truncate_outside_the_staged_bytes_is_invalid_offset(self, storage, size):
        writer = storage.start_upload(new_id())
        writer.write(DATA)
        with pytest.raises(InvalidOffset):
            writer.truncate(size)
        writer.cancel()

    # --- the announced digest algorithm ---------------------------------------------------------
    @pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
    def test_session_started_for_an_algorithm_commits_with_it(self, storage, algorithm):
        writer = storage.start_upload(upload_id := new_id(), algorithm=algorithm)
        writer.write(DATA[:3000])
        writer.close()
        writer = self.reopen(storage).resume_upload(upload_id, algorithm=algorithm)
        writer.write(DATA[3000:])
        assert writer.commit(digest_of(DATA, algorithm)).size == len(DATA)

    def test_the_announced_algorithm_is_only_a_hint(self, storage):
        """A client that announced sha512 and closes with a sha256 digest is still verified."""
        writer = storage.start_upload(new_id(), algorithm="sha512")
        writer.write(DATA)
        assert writer.commit(DIGEST).size == len(DATA)
        writer = storage.start_upload(new_id(), algorithm="sha512")
        writer.write(DATA)
        with pytest.raises(DigestMismatch):
            writer.commit(digest_of(DATA + b"!", "sha512"))

    # --- duplicates and concurrency ------------------------------------------------------------
    def test_duplicate_commit_from_two_sessions_keeps_one_copy(self, storage):
        first, second = self.upload(storage, DATA), self.upload(storage, DATA)
        assert self.commit(storage, first, DIGEST).size == len(DATA)
        assert self.commit(self.reopen(storage), second, DIGEST).size == len(DATA)
        assert len(self.blob_objects(storage)) == 1
        assert self.staged_objects(storage) == []
        assert read_all(storage.open(DIGEST)) == DATA

    def test_commit_while_the_blob_is_being_read(self, storage):
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        stream = storage.open(DIGEST)
        head = stream.read(100)
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        assert head + read_all(stream) == DATA

    def test_concurrent_commits_of_the_same_content_from_threads(self, storage):
        sessions = [self.upload(storage, DATA) for _ in range(8)]
        barrier, results, errors = threading.Barrier(len(sessions)), [], []

        def commit(upload_id: str) -> None:
            try:
                writer = self.reopen(storage).resume_upload(upload_id)
                barrier.wait()
                results.append(writer.commit(DIGEST))
            except Exception as exc:  # collected: an assertion in a thread would be lost
                errors.append(exc)

        threads = [threading.Thread(target=commit, args=(s,)) for s in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert results == [BlobInfo(size=len(DATA))] * len(sessions)
        assert len(self.blob_objects(storage)) == 1
        assert self.staged_objects(storage) == []
        assert read_all(storage.open(DIGEST)) == DATA

    def test_concurrent_uploads_of_different_content_from_threads(self, storage):
        contents = [DATA + bytes([i]) * i for i in range(8)]
        errors = []

        def push(data: bytes) -> None:
            try:
                self.commit(storage, self.upload(storage, data, chunk=1000), digest_of(data))
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=push, args=(c,)) for c in contents]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for data in contents:
            assert read_all(storage.open(digest_of(data))) == data

    # --- cancel and delete -----------------------------------------------------------------------
    def test_cancel_through_the_writer(self, storage):
        writer = storage.start_upload(upload_id := new_id())
        writer.write(DATA)
        writer.cancel()
        with pytest.raises(UploadNotFound):
            storage.resume_upload(upload_id)
        assert self.staged_objects(storage) == []

    def test_cancel_a_closed_session(self, storage):
        upload_id = self.upload(storage, DATA)
        self.reopen(storage).cancel_upload(upload_id)
        with pytest.raises(UploadNotFound):
            storage.upload_size(upload_id)
        assert self.staged_objects(storage) == []
        assert self.blob_objects(storage) == []

    def test_cancel_of_an_unknown_session_is_harmless(self, storage):
        storage.cancel_upload(new_id())

    def test_cancel_leaves_other_sessions_alone(self, storage):
        keep, drop = self.upload(storage, DATA), self.upload(storage, DATA[:10])
        storage.cancel_upload(drop)
        assert self.commit(storage, keep, DIGEST).size == len(DATA)

    def test_delete(self, storage):
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        storage.delete(DIGEST)
        assert storage.stat(DIGEST) is None
        with pytest.raises(BlobNotFound):
            storage.open(DIGEST)
        assert self.blob_objects(storage) == []

    def test_delete_of_a_missing_blob(self, storage):
        with pytest.raises(BlobNotFound):
            storage.delete(DIGEST)

    def test_blob_can_be_pushed_again_after_delete(self, storage):
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        storage.delete(DIGEST)
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        assert read_all(storage.open(DIGEST)) == DATA

    def test_stat_reports_the_size(self, storage):
        data = DATA[:1234]
        self.commit(storage, self.upload(storage, data), digest_of(data))
        assert storage.stat(digest_of(data)) == BlobInfo(size=1234)
        assert self.reopen(storage).stat(digest_of(data)) == BlobInfo(size=1234)

    # --- walk (housekeeping) ------------------------------------------------------------------
    def test_walk_lists_every_blob_with_its_size_and_age(self, storage):
        small = DATA[:10]
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        self.commit(storage, self.upload(storage, small), digest_of(small))
        items = {item.name: item for item in self.reopen(storage).walk("blobs")}
        assert set(items) == {DIGEST, digest_of(small)}
        assert items[DIGEST].size == len(DATA) and items[digest_of(small)].size == 10
        assert abs(items[DIGEST].modified_at - time.time()) < 60

    def test_walk_lists_upload_sessions_but_not_committed_ones(self, storage):
        staged = new_id()
        writer = storage.start_upload(staged)
        writer.write(DATA[:100])
        writer.close()
        self.commit(storage, self.upload(storage, DATA), DIGEST)
        items = list(storage.walk("uploads"))
        assert [(i.name, i.size) for i in items] == [(staged, 100)]

    def test_walk_of_an_empty_store(self, storage):
        assert list(storage.walk("blobs")) == [] and list(storage.walk("uploads")) == []

    def test_walk_of_an_unknown_area_is_an_error(self, storage):
        with pytest.raises(ValueError):
            list(storage.walk("elsewhere"))
