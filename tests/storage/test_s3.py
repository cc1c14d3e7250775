"""The S3 backend against moto's real S3 HTTP server: the conformance suite, then what only
S3 has (multipart parts, sessions continued by another instance, Range GETs, redirects)."""
from __future__ import annotations

import urllib.request
import uuid

import pytest

from storage_backends import s3, s3_upload
from storage_backends.base import StorageError
from storage_backends.s3 import MiB, S3Config, S3Storage
from tests.s3server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

from .conformance import DATA, DIGEST, StorageConformance, big, digest_of, new_id, read_all, write

PART = s3.MIN_PART_SIZE


def make_storage(s3_server, tmp_path, bucket: str | None = None, **options) -> S3Storage:
    config = S3Config(
        bucket=bucket or s3_server.new_bucket(), endpoint_url=s3_server.endpoint_url, region=REGION,
        access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET_ACCESS_KEY, prefix="registry/",
        part_size=PART, buffer_dir=tmp_path / "buffers", **options,
    )
    storage = S3Storage(config)
    storage.check()
    return storage


def keys(storage: S3Storage, area: str) -> list[str]:
    return sorted(o["Key"] for o in storage._objects(f"registry/{area}/"))


def staged(storage: S3Storage) -> list[str]:
    """Objects under uploads/ and multipart uploads still open (they cost money too)."""
    return keys(storage, "uploads") + sorted(u["Key"] for u in storage._multipart_uploads("registry/"))


class TestS3Storage(StorageConformance):
    unit = PART

    @pytest.fixture(autouse=True)
    def _server(self, s3_server):
        self.s3_server = s3_server

    def make_storage(self, tmp_path):
        return make_storage(self.s3_server, tmp_path)

    def reopen(self, storage):
        return S3Storage(storage.config)

    def staged_objects(self, storage):
        return staged(storage)

    def blob_objects(self, storage):
        return keys(storage, "blobs")


@pytest.fixture
def storage(s3_server, tmp_path):
    return make_storage(s3_server, tmp_path)


def test_layout_is_content_addressed_under_the_prefix(storage):
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    writer.write(DATA)
    writer.close()
    assert keys(storage, "uploads") == [f"registry/uploads/{upload_id}/tail"]
    writer = storage.resume_upload(upload_id)
    writer.commit(DIGEST)
    hexpart = DIGEST.split(":")[1]
    assert keys(storage, "blobs") == [f"registry/blobs/sha256/{hexpart[:2]}/{hexpart}"]
    assert staged(storage) == []


def test_multipart_upload_of_several_parts_with_odd_chunks(storage):
    data = big(2 * PART + 12345)
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    write(writer, data, 999_983)  # a prime: chunks straddle every part boundary
    assert writer.size == len(data)
    assert len(writer._session.parts) == 2  # two full parts sent, the rest buffered on disk
    assert writer.commit(digest_of(data)).size == len(data)
    assert read_all(storage.open(digest_of(data))) == data
    assert staged(storage) == []


def test_session_resumed_by_fresh_instances_across_part_boundaries(storage):
    """Every request lands on another instance (another process): nothing is kept between."""
    data = big(3 * PART + 777)
    upload_id = new_id()
    storage.start_upload(upload_id).close()
    offset = 0
    for chunk in (3 * MiB, 3 * MiB + 1, 1, 4 * MiB - 7, 5 * MiB + 3, len(data)):
        instance = S3Storage(storage.config)
        assert instance.upload_size(upload_id) == offset
        writer = instance.resume_upload(upload_id)
        assert writer.size == offset
        write(writer, data[offset:offset + chunk], 256 * 1024 + 1)
        offset = min(offset + chunk, len(data))
        writer.close()
        if offset == len(data):
            break
    writer = S3Storage(storage.config).resume_upload(upload_id)
    assert writer._hasher is None  # bytes came through several writers: re-hashed from S3
    assert writer.commit(digest_of(data)).size == len(data)
    assert read_all(storage.open(digest_of(data))) == data
    assert staged(storage) == []


def test_a_request_that_died_after_a_part_leaves_the_session_as_it_was(storage):
    """A part was sent but the tail was not written back: that request never happened (as a
    refused chunk), and the next one overwrites the part it left."""
    data = big(PART + 1000)
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    writer.write(data[:4 * MiB])
    writer.close()
    writer = S3Storage(storage.config).resume_upload(upload_id)
    writer.write(b"x" * (PART - 4 * MiB + 10))  # fills part 1 with bytes that must not stay
    writer.write(b"y" * 10)
    writer._buffer.close()  # the process dies: no close(), the old tail stays
    assert storage.upload_size(upload_id) == 4 * MiB
    writer = S3Storage(storage.config).resume_upload(upload_id)
    writer.write(data[4 * MiB:])
    assert writer.commit(digest_of(data)).size == len(data)
    assert read_all(storage.open(digest_of(data))) == data


def test_a_refused_chunk_is_truncated_away_even_after_parts_were_sent(storage):
    """`truncate` back to where the writer opened the session, as a refused chunk needs."""
    data = big(2 * PART + 300)
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    writer.write(data[:MiB])
    writer.close()
    writer = S3Storage(storage.config).resume_upload(upload_id)
    writer.write(b"z" * (PART + 7))  # a whole part goes to S3, then the chunk is refused
    writer.truncate(MiB)
    assert writer.size == MiB
    writer.close()
    assert storage.upload_size(upload_id) == MiB
    writer = S3Storage(storage.config).resume_upload(upload_id)
    writer.write(data[MiB:MiB + 100])
    writer.truncate(MiB + 40)  # within the unsent bytes
    writer.write(data[MiB + 40:])
    assert writer.commit(digest_of(data)).size == len(data)
    assert read_all(storage.open(digest_of(data))) == data


def test_truncate_cannot_reach_into_parts_sent_before_the_writer_opened(storage):
    writer = storage.start_upload(new_id())
    writer.write(big(PART + 10))
    writer.write(b"more")  # part 1 sent
    with pytest.raises(s3.StorageError):
        writer.truncate(10)
    with pytest.raises(s3.InvalidOffset):
        writer.truncate(writer.size + 1)
    writer.cancel()


def test_wrong_digest_of_a_multipart_upload_leaves_nothing(storage):
    data = big(PART + 5)
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    write(writer, data, MiB)
    writer.close()
    with pytest.raises(s3.DigestMismatch):
        S3Storage(storage.config).resume_upload(upload_id).commit(digest_of(b"other"))
    assert staged(storage) == [] and keys(storage, "blobs") == []


def test_a_single_writer_hashes_in_flight(storage, monkeypatch):
    monkeypatch.setattr(
        s3_upload.S3UploadWriter, "_sealed_chunks", lambda *a: pytest.fail("the staged object was read back")
    )
    data = big(PART + 5)
    writer = storage.start_upload(new_id())
    write(writer, data, MiB)
    assert writer.commit(digest_of(data)).size == len(data)


def test_the_copy_is_multipart_above_the_threshold(s3_server, tmp_path):
    storage = make_storage(s3_server, tmp_path, copy_threshold=PART)
    data = big(2 * PART + 1)
    writer = storage.start_upload(new_id())
    write(writer, data, MiB)
    assert writer.commit(digest_of(data)).size == len(data)
    assert read_all(storage.open(digest_of(data))) == data


def test_presigned_redirect_serves_the_right_bytes(s3_server, tmp_path):
    storage = make_storage(s3_server, tmp_path, redirect=True)
    writer = storage.start_upload(new_id())
    writer.write(DATA)
    writer.commit(DIGEST)
    url = storage.redirect_url(DIGEST)
    assert url.startswith(s3_server.endpoint_url) and "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == DATA
    request = urllib.request.Request(url, headers={"Range": "bytes=100-199"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 206 and response.read() == DATA[100:200]


def test_no_redirect_unless_configured(storage):
    assert storage.redirect_url(DIGEST) is None


def test_walk_counts_the_parts_of_an_open_session(storage):
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    write(writer, big(PART + 100), MiB)
    writer.close()
    assert [(i.name, i.size) for i in storage.walk("uploads")] == [(upload_id, PART + 100)]


def test_an_unreachable_bucket_fails_the_check(s3_server, tmp_path):
    with pytest.raises(StorageError, match="not usable"):
        make_storage(s3_server, tmp_path, bucket=f"missing-{uuid.uuid4().hex[:8]}")


@pytest.mark.parametrize("config, problem", [
    (S3Config(bucket=""), "REGISTRY_S3_BUCKET"),
    (S3Config(bucket="b", part_size=MiB), "REGISTRY_S3_PART_SIZE"),
    (S3Config(bucket="b", access_key_id="id"), "REGISTRY_S3_SECRET_ACCESS_KEY"),
    (S3Config(bucket="b", endpoint_url="minio:9000"), "REGISTRY_S3_ENDPOINT_URL"),
    (S3Config(bucket="b", prefix="registry"), "REGISTRY_S3_PREFIX"),
])
def test_configuration_problems_are_named(config, problem):
    assert any(problem in p for p in config.problems())
    assert S3Config(bucket="b").problems() == []
