"""The Azure backend against Azurite, Microsoft's real emulator: the conformance suite, then
what only Azure has (blocks, sessions continued by another instance, copies, SAS redirects)."""
from __future__ import annotations

import urllib.request
import uuid

import pytest

from azure.storage.blob import BlobClient

from storage_backends.azure import AzureConfig, AzureStorage
from storage_backends.azure_config import READ_CHUNK, account_name
from storage_backends.base import DigestMismatch, InvalidOffset, StorageError, UploadNotFound
from tests.azurite import ACCOUNT_KEY

from .conformance import DATA, DIGEST, StorageConformance, big, digest_of, new_id, read_all, write

# Small blocks, so that the conformance suite's 16 KiB and 3.2 MB blobs span several.
BLOCK = 64 * 1024


def make_storage(azurite, tmp_path, container: str | None = None, **options) -> AzureStorage:
    options = {"account_key": ACCOUNT_KEY, "block_size": BLOCK, **options}
    config = AzureConfig(
        container=container or azurite.new_container(), account_url=azurite.account_url,
        prefix="registry/", buffer_dir=tmp_path / "buffers", **options,
    )
    storage = AzureStorage(config)
    storage.check()
    return storage


def names(storage: AzureStorage, area: str) -> list[str]:
    return sorted(b.name for b in storage._container.list_blobs(name_starts_with=f"registry/{area}/"))


class TestAzureStorage(StorageConformance):
    unit = READ_CHUNK

    @pytest.fixture(autouse=True)
    def _server(self, azurite):
        self.azurite = azurite

    def make_storage(self, tmp_path):
        return make_storage(self.azurite, tmp_path)

    def reopen(self, storage):
        return AzureStorage(storage.config)

    def staged_objects(self, storage):
        return names(storage, "uploads")

    def blob_objects(self, storage):
        return names(storage, "blobs")


@pytest.fixture
def storage(azurite, tmp_path):
    return make_storage(azurite, tmp_path)


def committed_blocks(storage: AzureStorage, upload_id: str) -> list[int]:
    return [size for _, size in storage._load(upload_id)[0]]


def test_layout_is_content_addressed_under_the_prefix(storage):
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    writer.write(DATA)
    writer.close()
    assert names(storage, "uploads") == [f"registry/uploads/{upload_id}"]
    assert committed_blocks(storage, upload_id) == [BLOCK // 4]  # a request's tail is a block too
    storage.resume_upload(upload_id).commit(DIGEST)
    hexpart = DIGEST.split(":")[1]
    assert names(storage, "blobs") == [f"registry/blobs/sha256/{hexpart[:2]}/{hexpart}"]
    assert names(storage, "uploads") == []


def test_blocks_are_staged_as_they_fill_and_count_only_once_committed(storage):
    data = big(2 * BLOCK + 12345)
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    write(writer, data, 9973)  # a prime: chunks straddle every block boundary
    assert writer.size == len(data)
    assert storage.upload_size(upload_id) == 0  # staged, not committed: not the session's yet
    writer.close()
    assert committed_blocks(storage, upload_id) == [BLOCK, BLOCK, 12345]
    assert storage.resume_upload(upload_id).commit(digest_of(data)).size == len(data)
    assert read_all(storage.open(digest_of(data))) == data


def test_session_resumed_by_fresh_instances_across_block_boundaries(storage):
    """Every request lands on another instance (another process): nothing is kept between."""
    data = big(5 * BLOCK + 777)
    upload_id = new_id()
    storage.start_upload(upload_id).close()
    offset = 0
    for chunk in (BLOCK - 1, BLOCK + 2, 1, 2 * BLOCK, len(data)):
        instance = AzureStorage(storage.config)
        assert instance.upload_size(upload_id) == offset
        writer = instance.resume_upload(upload_id)
        write(writer, data[offset:offset + chunk], 10_001)
        offset = min(offset + chunk, len(data))
        writer.close()
    writer = AzureStorage(storage.config).resume_upload(upload_id)
    assert writer._hasher is None  # bytes came through other instances: re-hashed from Azure
    assert writer.commit(digest_of(data)).size == len(data)
    assert read_all(storage.open(digest_of(data))) == data
    assert names(storage, "uploads") == []


def test_a_request_that_died_mid_block_leaves_the_session_as_it_was(storage):
    """Blocks were staged but the request never ended (no close): they are not the
    session's, and the next request, on another instance, goes on from the old end."""
    data = big(3 * BLOCK)
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    writer.write(data[:BLOCK + 100])
    writer.close()
    writer = AzureStorage(storage.config).resume_upload(upload_id)
    writer.write(b"x" * (2 * BLOCK + 10))  # two blocks staged, then the process dies
    writer._buffer.close()
    assert storage.upload_size(upload_id) == BLOCK + 100
    writer = AzureStorage(storage.config).resume_upload(upload_id)
    writer.write(data[BLOCK + 100:])
    assert writer.commit(digest_of(data)).size == len(data)
    assert read_all(storage.open(digest_of(data))) == data


def test_a_refused_chunk_is_truncated_away_even_after_blocks_were_staged(storage):
    data = big(3 * BLOCK + 300)
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    writer.write(data[:1000])
    writer.close()
    writer = AzureStorage(storage.config).resume_upload(upload_id)
    writer.write(b"z" * (2 * BLOCK + 7))  # blocks staged, then the chunk is refused
    writer.truncate(1000)
    assert writer.size == 1000
    writer.close()
    assert storage.upload_size(upload_id) == 1000
    writer = AzureStorage(storage.config).resume_upload(upload_id)
    write(writer, data[1000:1000 + BLOCK + 100], 4096)
    writer.truncate(1000 + BLOCK + 40)  # within the buffered bytes
    writer.write(data[1000 + BLOCK + 40:])
    assert writer.commit(digest_of(data)).size == len(data)
    assert read_all(storage.open(digest_of(data))) == data


def test_truncate_cannot_cut_into_a_staged_block(storage):
    writer = storage.start_upload(new_id())
    writer.write(big(BLOCK + 10))
    with pytest.raises(StorageError):
        writer.truncate(10)
    with pytest.raises(InvalidOffset):
        writer.truncate(writer.size + 1)
    writer.truncate(BLOCK)  # the end of a staged block is fine
    assert writer.size == BLOCK
    writer.cancel()


def test_a_single_writer_hashes_in_flight(storage, monkeypatch):
    monkeypatch.setattr(BlobClient, "download_blob", lambda *a, **k: pytest.fail("the session was read back"))
    data = big(2 * BLOCK + 5)
    writer = storage.start_upload(new_id())
    write(writer, data, 10_000)
    assert writer._hasher is not None
    assert writer.commit(digest_of(data)).size == len(data)


def test_the_next_request_in_the_same_process_keeps_hashing_in_flight(storage, monkeypatch):
    """docker's push: POST, one PATCH with the layer, PUT with the digest; when the PUT lands
    in the process that took the PATCH, nothing is read back from Azure."""
    data = big(BLOCK + 5)
    upload_id = new_id()
    storage.start_upload(upload_id).close()
    writer = storage.resume_upload(upload_id)
    write(writer, data, 10_000)
    writer.close()
    writer = storage.resume_upload(upload_id)
    assert writer._hasher is not None
    monkeypatch.setattr(BlobClient, "download_blob", lambda *a, **k: pytest.fail("the session was read back"))
    assert writer.commit(digest_of(data)).size == len(data)


def test_wrong_digest_of_a_session_of_blocks_leaves_nothing(storage):
    data = big(2 * BLOCK + 5)
    upload_id = new_id()
    writer = storage.start_upload(upload_id)
    write(writer, data, 10_000)
    writer.close()
    with pytest.raises(DigestMismatch):
        AzureStorage(storage.config).resume_upload(upload_id).commit(digest_of(b"other"))
    assert names(storage, "uploads") == [] and names(storage, "blobs") == []


def test_a_session_cancelled_meanwhile_is_not_brought_back_by_a_late_request(storage):
    upload_id = new_id()
    storage.start_upload(upload_id).close()
    writer = AzureStorage(storage.config).resume_upload(upload_id)
    writer.write(DATA)
    storage.cancel_upload(upload_id)  # e.g. the purge, or a DELETE from the client
    with pytest.raises(UploadNotFound):
        writer.close()
    assert names(storage, "uploads") == []


def test_a_blob_whose_copy_did_not_finish_is_not_there(storage, monkeypatch):
    data = big(BLOCK + 1)
    writer = storage.start_upload(upload_id := new_id())
    write(writer, data, 10_000)
    writer.close()
    monkeypatch.setattr(AzureStorage, "_copy", lambda self, *a: (_ for _ in ()).throw(StorageError("copy failed")))
    with pytest.raises(StorageError):
        storage.resume_upload(upload_id).commit(digest_of(data))
    assert storage.stat(digest_of(data)) is None
    assert storage.upload_size(upload_id) == len(data)  # the session is still there to retry
    monkeypatch.undo()
    assert storage.resume_upload(upload_id).commit(digest_of(data)).size == len(data)


def test_sas_redirect_serves_the_right_bytes(azurite, tmp_path):
    storage = make_storage(azurite, tmp_path, redirect=True)
    writer = storage.start_upload(new_id())
    writer.write(DATA)
    writer.commit(DIGEST)
    url = storage.redirect_url(DIGEST)
    assert url.startswith(azurite.account_url) and "sig=" in url and "sp=r" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == DATA
    request = urllib.request.Request(url, headers={"Range": "bytes=100-199"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 206 and response.read() == DATA[100:200]


def test_no_redirect_unless_configured(storage):
    assert storage.redirect_url(DIGEST) is None


def test_a_connection_string_works_as_well(azurite, tmp_path):
    config = AzureConfig(container=azurite.new_container(), connection_string=azurite.connection_string)
    assert config.problems() == []
    storage = AzureStorage(config)
    storage.check()
    writer = storage.start_upload(new_id())
    writer.write(DATA)
    writer.commit(DIGEST)
    assert read_all(storage.open(DIGEST)) == DATA


def test_a_missing_container_fails_the_check_naming_the_setting(azurite, tmp_path):
    with pytest.raises(StorageError, match="REGISTRY_AZURE_CONTAINER"):
        make_storage(azurite, tmp_path, container=f"missing-{uuid.uuid4().hex[:8]}")


def test_a_wrong_key_fails_the_check_naming_the_setting(azurite, tmp_path):
    with pytest.raises(StorageError, match="REGISTRY_AZURE_ACCOUNT_KEY") as info:
        make_storage(azurite, tmp_path, account_key="d3Jvbmc=")
    assert "d3Jvbmc=" not in str(info.value)


def test_an_unreachable_account_fails_the_check_naming_the_setting(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/devstoreaccount1"
    storage = AzureStorage(AzureConfig(container="registry", account_url=url, account_key=ACCOUNT_KEY))
    with pytest.raises(StorageError, match="unreachable.*REGISTRY_AZURE_ACCOUNT_URL"):
        storage.check()


@pytest.mark.parametrize("url, name", [
    ("https://myaccount.blob.core.windows.net", "myaccount"),
    ("https://myaccount.blob.core.windows.net/", "myaccount"),
    ("http://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1"),
    ("http://localhost:10000/devstoreaccount1/", "devstoreaccount1"),
    ("http://azurite:10000/devstoreaccount1", "devstoreaccount1"),
])
def test_account_name_from_the_url(url, name):
    assert account_name(url) == name


@pytest.mark.parametrize("config, problem", [
    (AzureConfig(container="", account_url="https://a.blob.core.windows.net"), "REGISTRY_AZURE_CONTAINER"),
    (AzureConfig(container="Bad_Name", account_url="https://a.blob.core.windows.net"), "REGISTRY_AZURE_CONTAINER"),
    (AzureConfig(container="registry"), "REGISTRY_AZURE_ACCOUNT_URL"),
    (AzureConfig(container="registry", account_url="a.blob.core.windows.net"), "REGISTRY_AZURE_ACCOUNT_URL"),
    (AzureConfig(container="registry", connection_string="garbage"), "REGISTRY_AZURE_CONNECTION_STRING"),
    (AzureConfig(container="registry", account_url="https://a.blob.core.windows.net", account_key="k",
                 sas_token="s"), "REGISTRY_AZURE_SAS_TOKEN"),
    (AzureConfig(container="registry", account_url="https://a.blob.core.windows.net", prefix="registry"),
     "REGISTRY_AZURE_PREFIX"),
    (AzureConfig(container="registry", account_url="https://a.blob.core.windows.net", block_size=1000),
     "REGISTRY_AZURE_BLOCK_SIZE"),
    (AzureConfig(container="registry", account_url="https://a.blob.core.windows.net", sas_token="sv=x&sig=y",
                 redirect=True), "REGISTRY_AZURE_REDIRECT"),
])
def test_configuration_problems_are_named(config, problem):
    assert any(problem in p for p in config.problems())
    assert AzureConfig(container="registry", account_url="https://a.blob.core.windows.net").problems() == []
