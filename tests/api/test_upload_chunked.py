"""Chunked uploads: PATCH with and without Content-Range, status, cancel, the closing PUT."""
from __future__ import annotations

import io
import uuid

import pytest

from registry_api.models import Blob, Upload
from registry_api.services import uploads as upload_service
from storage_backends import get_storage
from storage_backends.filesystem import FilesystemStorage

from .support import assert_error, sha256

DATA = bytes(range(256)) * 40  # 10240 bytes
DIGEST = sha256(DATA)
OCTETS = "application/octet-stream"


@pytest.fixture
def location(client) -> str:
    return client.post("/v2/library/app/blobs/uploads/")["Location"]


def patch(client, location: str, data: bytes, content_range: str | None = None):
    headers = {"Content-Range": content_range} if content_range else {}
    return client.patch(location, data, content_type=OCTETS, headers=headers)


def patch_streamed(client, location: str, data: bytes):
    """A PATCH as docker sends it: Transfer-Encoding chunked, no Content-Length or Content-Range."""
    return client.generic(
        "PATCH", location, CONTENT_TYPE=OCTETS, HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(data)},
    )


def staged(root) -> list:
    return [p for p in (root / "uploads").rglob("*") if p.is_file()]


def test_patch_with_content_range_answers_202_with_range(client, location):
    response = patch(client, location, DATA[:1000], "0-999")
    assert response.status_code == 202
    assert response["Location"] == location
    assert response["Range"] == "0-999"
    assert response["Docker-Upload-UUID"] == location.rsplit("/", 1)[1]


def test_chunks_in_order_then_put_create_the_blob(client, location):
    assert patch(client, location, DATA[:4096], "0-4095").status_code == 202
    response = patch(client, location, DATA[4096:8192], "4096-8191")
    assert response["Range"] == "0-8191"
    assert patch(client, location, DATA[8192:], f"8192-{len(DATA) - 1}").status_code == 202
    response = client.put(f"{location}?digest={DIGEST}")
    assert response.status_code == 201
    assert response["Location"] == f"/v2/library/app/blobs/{DIGEST}"
    assert response["Docker-Content-Digest"] == DIGEST
    assert b"".join(client.get(response["Location"]).streaming_content) == DATA


def test_rejects_out_of_order_chunk(client, location):
    patch(client, location, DATA[:100], "0-99")
    response = patch(client, location, DATA[200:300], "200-299")
    assert_error(response, 416, "BLOB_UPLOAD_INVALID")
    assert response["Location"] == location
    assert response["Range"] == "0-99"
    # Nothing of the refused chunk was kept.
    assert client.get(location)["Range"] == "0-99"


def test_rejects_first_chunk_not_starting_at_zero(client, location):
    response = patch(client, location, DATA[10:20], "10-19")
    assert_error(response, 416, "BLOB_UPLOAD_INVALID")
    assert response["Location"] == location


def test_rejects_chunk_that_overlaps_what_is_stored(client, location):
    patch(client, location, DATA[:100], "0-99")
    response = patch(client, location, DATA[50:150], "50-149")
    assert_error(response, 416, "BLOB_UPLOAD_INVALID")
    assert response["Range"] == "0-99"


def test_rejects_content_length_that_disagrees_with_content_range(client, location):
    response = patch(client, location, DATA[:10], "0-99")
    assert_error(response, 416, "BLOB_UPLOAD_INVALID")  # as the reference registry answers
    assert client.get(location)["Range"] == "0-0"  # nothing was written


@pytest.mark.parametrize("value", ["bytes 0-9/10", "0-", "x-y", "9-0"])
def test_malformed_content_range_is_blob_upload_invalid(client, location, value):
    assert_error(patch(client, location, DATA[:10], value), 400, "BLOB_UPLOAD_INVALID")


def test_accepts_content_range_with_bytes_prefix(client, location):
    response = patch(client, location, DATA[:10], "bytes=0-9")
    assert response.status_code == 202
    assert response["Range"] == "0-9"


def test_patch_without_content_range_appends(client, location):
    assert patch(client, location, DATA[:5000]).status_code == 202
    response = patch(client, location, DATA[5000:])
    assert response.status_code == 202
    assert response["Range"] == f"0-{len(DATA) - 1}"
    assert client.put(f"{location}?digest={DIGEST}").status_code == 201


def test_streamed_patch_without_content_length_is_stored(client, location):
    response = patch_streamed(client, location, DATA[:6000])
    assert response.status_code == 202
    assert response["Range"] == "0-5999"
    response = patch_streamed(client, location, DATA[6000:])
    assert response["Range"] == f"0-{len(DATA) - 1}"
    assert client.put(f"{location}?digest={DIGEST}").status_code == 201


def test_status_is_204_with_location_and_range(client, location):
    response = client.get(location)
    assert response.status_code == 204
    assert response["Location"] == location
    assert response["Range"] == "0-0"
    patch(client, location, DATA[:10], "0-9")
    response = client.get(location)
    assert response.status_code == 204
    assert response["Range"] == "0-9"
    assert response["Docker-Upload-UUID"] == location.rsplit("/", 1)[1]


def test_delete_cancels_the_session(client, location, storage_root):
    patch(client, location, DATA[:10], "0-9")
    response = client.delete(location)
    assert response.status_code == 204
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch(client, location, DATA[10:20], "10-19"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.put(f"{location}?digest={DIGEST}"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.delete(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert not Upload.objects.exists()
    assert staged(storage_root) == []


def test_session_of_another_repository_is_unknown(client, location):
    upload_id = location.rsplit("/", 1)[1]
    other = f"/v2/library/other/blobs/uploads/{upload_id}"
    client.post("/v2/library/other/blobs/uploads/")
    assert_error(client.get(other), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch(client, other, DATA[:10]), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.put(f"{other}?digest={DIGEST}", DATA, content_type=OCTETS), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.delete(other), 404, "BLOB_UPLOAD_UNKNOWN")
    assert client.get(location).status_code == 204


@pytest.mark.parametrize("upload_id", ["not-a-uuid", "1234", "..", "%2e%2e"])
def test_malformed_upload_id_is_unknown(client, upload_id):
    assert_error(client.get(f"/v2/library/app/blobs/uploads/{upload_id}"), 404, "BLOB_UPLOAD_UNKNOWN")


def test_well_formed_but_unknown_upload_id_is_unknown(client, location):
    missing = f"/v2/library/app/blobs/uploads/{uuid.uuid4()}"
    assert_error(client.get(missing), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch(client, missing, DATA[:10]), 404, "BLOB_UPLOAD_UNKNOWN")


def test_final_chunk_in_put(client, location):
    patch(client, location, DATA[:4000], "0-3999")
    response = client.put(f"{location}?digest={DIGEST}", DATA[4000:], content_type=OCTETS)
    assert response.status_code == 201
    assert b"".join(client.get(response["Location"]).streaming_content) == DATA


def test_final_chunk_in_put_with_content_range(client, location):
    patch(client, location, DATA[:4000], "0-3999")
    response = client.put(
        f"{location}?digest={DIGEST}", DATA[4000:], content_type=OCTETS,
        headers={"Content-Range": f"4000-{len(DATA) - 1}"},
    )
    assert response.status_code == 201


def test_rejects_out_of_order_final_chunk_in_put(client, location):
    patch(client, location, DATA[:4000], "0-3999")
    response = client.put(
        f"{location}?digest={DIGEST}", DATA[5000:], content_type=OCTETS,
        headers={"Content-Range": f"5000-{len(DATA) - 1}"},
    )
    assert_error(response, 416, "BLOB_UPLOAD_INVALID")
    assert response["Location"] == location
    assert response["Range"] == "0-3999"
    assert not Blob.objects.exists()


def test_put_without_digest_is_digest_invalid_and_keeps_the_session(client, location):
    patch(client, location, DATA, f"0-{len(DATA) - 1}")
    assert_error(client.put(location), 400, "DIGEST_INVALID")
    assert client.get(location)["Range"] == f"0-{len(DATA) - 1}"
    assert client.put(f"{location}?digest={DIGEST}").status_code == 201


def test_put_with_digest_of_only_the_last_chunk_is_digest_invalid(client, location, storage_root):
    patch(client, location, DATA[:4000], "0-3999")
    response = client.put(f"{location}?digest={sha256(DATA[4000:])}", DATA[4000:], content_type=OCTETS)
    assert_error(response, 400, "DIGEST_INVALID")
    assert not Blob.objects.exists()
    assert staged(storage_root) == []
    assert list((storage_root / "blobs").rglob("*.*")) == []


def test_resume_after_hasher_cache_is_lost_still_verifies(client, location):
    patch(client, location, DATA[:3000], "0-2999")
    get_storage.cache_clear()  # as if the next chunk reached another worker process
    patch(client, location, DATA[3000:7000], "3000-6999")
    get_storage.cache_clear()
    assert_error(client.put(f"{location}?digest={sha256(DATA[:7000] + b'y')}", b"x", content_type=OCTETS),
                 400, "DIGEST_INVALID")

    location = client.post("/v2/library/app/blobs/uploads/")["Location"]
    patch(client, location, DATA[:3000], "0-2999")
    get_storage.cache_clear()
    patch(client, location, DATA[3000:7000], "3000-6999")
    get_storage.cache_clear()
    response = client.put(f"{location}?digest={DIGEST}", DATA[7000:], content_type=OCTETS)
    assert response.status_code == 201
    assert b"".join(client.get(response["Location"]).streaming_content) == DATA


def test_stale_hasher_of_a_worker_that_missed_a_chunk_is_not_used(client, location, storage_root, monkeypatch):
    first, second = FilesystemStorage(storage_root), FilesystemStorage(storage_root)
    monkeypatch.setattr(upload_service, "get_storage", lambda: first)
    patch(client, location, DATA[:3000], "0-2999")  # `first` now holds a hasher at 3000
    monkeypatch.setattr(upload_service, "get_storage", lambda: second)
    patch(client, location, DATA[3000:6000], "3000-5999")
    monkeypatch.setattr(upload_service, "get_storage", lambda: first)
    response = client.put(f"{location}?digest={DIGEST}", DATA[6000:], content_type=OCTETS)
    assert response.status_code == 201
    assert b"".join(client.get(response["Location"]).streaming_content) == DATA


def test_two_sessions_pushing_the_same_blob_both_succeed(client):
    first = client.post("/v2/library/app/blobs/uploads/")["Location"]
    second = client.post("/v2/library/app/blobs/uploads/")["Location"]
    patch(client, first, DATA[:5000], "0-4999")
    patch(client, second, DATA[:5000], "0-4999")
    assert client.put(f"{first}?digest={DIGEST}", DATA[5000:], content_type=OCTETS).status_code == 201
    assert client.put(f"{second}?digest={DIGEST}", DATA[5000:], content_type=OCTETS).status_code == 201
    assert Blob.objects.filter(digest=DIGEST).count() == 1


# --- refused chunks leave the session as it was ------------------------------------------------


def patch_streamed_with_range(client, location: str, data: bytes, content_range: str, method: str = "PATCH"):
    """A chunked-encoding body (no Content-Length) that says one length and sends another."""
    return client.generic(
        method, location, CONTENT_TYPE=OCTETS, HTTP_TRANSFER_ENCODING="chunked",
        HTTP_CONTENT_RANGE=content_range, **{"wsgi.input": io.BytesIO(data)},
    )


def staged_size(root) -> int:
    return sum(p.stat().st_size for p in staged(root))


def test_chunk_longer_than_its_content_range_is_refused_and_not_kept(client, location, storage_root):
    response = patch_streamed_with_range(client, location, DATA[:20], "0-9")
    assert_error(response, 400, "BLOB_UPLOAD_INVALID")
    assert client.get(location)["Range"] == "0-0"
    assert staged_size(storage_root) == 0
    assert patch(client, location, DATA[:10], "0-9")["Range"] == "0-9"


def test_chunk_shorter_than_its_content_range_is_refused_and_not_kept(client, location, storage_root):
    patch(client, location, DATA[:100], "0-99")
    response = patch_streamed_with_range(client, location, DATA[100:105], "100-199")
    assert_error(response, 400, "BLOB_UPLOAD_INVALID")
    assert client.get(location)["Range"] == "0-99"
    assert staged_size(storage_root) == 100


def test_body_ending_before_its_content_length_is_refused_and_not_kept(client, location, storage_root):
    patch(client, location, DATA[:100], "0-99")
    response = client.generic(
        "PATCH", location, CONTENT_TYPE=OCTETS, CONTENT_LENGTH="1000", **{"wsgi.input": io.BytesIO(DATA[100:600])},
    )
    assert_error(response, 400, "SIZE_INVALID")
    assert client.get(location)["Range"] == "0-99"
    assert staged_size(storage_root) == 100


def test_refused_final_chunk_in_put_keeps_the_session_as_it_was(client, location, storage_root):
    patch(client, location, DATA[:4000], "0-3999")
    response = patch_streamed_with_range(client, f"{location}?digest={DIGEST}", DATA[4000:], "4000-4999", "PUT")
    assert_error(response, 400, "BLOB_UPLOAD_INVALID")
    assert not Blob.objects.exists()
    assert client.get(location)["Range"] == "0-3999"
    assert staged_size(storage_root) == 4000
    # The client can still finish the upload properly.
    assert client.put(f"{location}?digest={DIGEST}", DATA[4000:], content_type=OCTETS).status_code == 201


@pytest.mark.parametrize("method", ["status", "patch"])
def test_a_session_whose_staged_bytes_vanished_is_unknown_and_named(client, location, storage_root, method):
    """The staging file went (a purge, a disk cleaned by hand): the row goes too, and the
    404 names the session the client asked about."""
    upload_id = location.rsplit("/", 1)[1].split("?", 1)[0]
    for path in staged(storage_root):
        path.unlink()
    response = client.get(location) if method == "status" else patch(client, location, DATA[:10], "0-9")
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    assert response.json()["errors"][0]["detail"] == {"uuid": upload_id}
    assert not Upload.objects.exists()
