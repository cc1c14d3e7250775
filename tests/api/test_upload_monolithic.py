"""Whole-blob uploads: POST then PUT with the body, and the single POST with ?digest=."""
from __future__ import annotations

import hashlib
import io
import re

import pytest

from registry_api.models import Blob, Repository, RepositoryBlob, Upload
from registry_api.services.repositories import repository_delete

from .support import assert_error, sha256

DATA = b"monolithic blob content\n" * 100
DIGEST = sha256(DATA)
UUID_RE = re.compile(r"^/v2/library/app/blobs/uploads/([0-9a-f-]{36})$")


def stored_files(root, sub: str) -> list[str]:
    base = root / sub
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()) if base.exists() else []


def test_post_starts_a_session_with_location_and_range(client):
    response = client.post("/v2/library/app/blobs/uploads/")
    assert response.status_code == 202
    match = UUID_RE.match(response["Location"])
    assert match, response["Location"]
    assert response["Docker-Upload-UUID"] == match.group(1)
    assert response["Range"] == "0-0"
    assert int(response["OCI-Chunk-Min-Length"]) > 0
    assert Upload.objects.filter(pk=match.group(1)).exists()


def test_post_without_trailing_slash_also_starts_a_session(client):
    response = client.post("/v2/library/app/blobs/uploads")
    assert response.status_code == 202
    assert UUID_RE.match(response["Location"])


def test_each_post_gets_its_own_session(client):
    first = client.post("/v2/library/app/blobs/uploads/")["Location"]
    second = client.post("/v2/library/app/blobs/uploads/")["Location"]
    assert first != second


def test_put_with_whole_body_creates_the_blob(client, storage_root):
    location = client.post("/v2/library/app/blobs/uploads/")["Location"]
    response = client.put(f"{location}?digest={DIGEST}", DATA, content_type="application/octet-stream")
    assert response.status_code == 201
    assert response["Location"] == f"/v2/library/app/blobs/{DIGEST}"
    assert response["Docker-Content-Digest"] == DIGEST
    assert client.head(response["Location"]).status_code == 200
    assert Blob.objects.get(digest=DIGEST).size == len(DATA)
    assert stored_files(storage_root, "uploads") == []
    assert stored_files(storage_root, "blobs") == [f"sha256/{DIGEST[7:9]}/{DIGEST[7:]}"]


def test_put_closes_the_session(client):
    location = client.post("/v2/library/app/blobs/uploads/")["Location"]
    client.put(f"{location}?digest={DIGEST}", DATA, content_type="application/octet-stream")
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert not Upload.objects.exists()


def test_single_post_with_digest_creates_the_blob(client, storage_root):
    response = client.post(
        f"/v2/library/app/blobs/uploads/?digest={DIGEST}", DATA, content_type="application/octet-stream"
    )
    assert response.status_code == 201
    assert response["Location"] == f"/v2/library/app/blobs/{DIGEST}"
    assert response["Docker-Content-Digest"] == DIGEST
    assert b"".join(client.get(response["Location"]).streaming_content) == DATA
    assert not Upload.objects.exists()
    assert stored_files(storage_root, "uploads") == []


def test_single_post_with_wrong_digest_is_digest_invalid_and_leaves_nothing(client, storage_root):
    wrong = sha256(b"something else")
    response = client.post(
        f"/v2/library/app/blobs/uploads/?digest={wrong}", DATA, content_type="application/octet-stream"
    )
    assert_error(response, 400, "DIGEST_INVALID")
    assert not Blob.objects.exists()
    assert not Upload.objects.exists()
    assert stored_files(storage_root, "uploads") == []
    assert stored_files(storage_root, "blobs") == []


def test_put_with_wrong_digest_is_digest_invalid_and_leaves_nothing(client, storage_root):
    location = client.post("/v2/library/app/blobs/uploads/")["Location"]
    wrong = sha256(b"something else")
    response = client.put(f"{location}?digest={wrong}", DATA, content_type="application/octet-stream")
    assert_error(response, 400, "DIGEST_INVALID")
    assert not Blob.objects.exists()
    assert not RepositoryBlob.objects.exists()
    assert not Upload.objects.exists()
    assert stored_files(storage_root, "uploads") == []
    assert stored_files(storage_root, "blobs") == []
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")


def test_single_post_with_malformed_digest_is_digest_invalid(client, storage_root):
    response = client.post(
        "/v2/library/app/blobs/uploads/?digest=sha256:xyz", DATA, content_type="application/octet-stream"
    )
    assert_error(response, 400, "DIGEST_INVALID")
    assert not Upload.objects.exists()


def test_body_shorter_than_content_length_is_size_invalid(client, storage_root):
    short = DATA[:100]
    response = client.post(
        f"/v2/library/app/blobs/uploads/?digest={DIGEST}",
        CONTENT_LENGTH=str(len(DATA)),
        CONTENT_TYPE="application/octet-stream",
        **{"wsgi.input": io.BytesIO(short)},
    )
    assert_error(response, 400, "SIZE_INVALID")
    assert not Blob.objects.exists()
    assert not Upload.objects.exists()
    assert stored_files(storage_root, "uploads") == []


def test_put_body_shorter_than_content_length_is_size_invalid(client, storage_root):
    location = client.post("/v2/library/app/blobs/uploads/")["Location"]
    response = client.put(
        f"{location}?digest={DIGEST}",
        CONTENT_LENGTH=str(len(DATA)),
        CONTENT_TYPE="application/octet-stream",
        **{"wsgi.input": io.BytesIO(DATA[:10])},
    )
    assert_error(response, 400, "SIZE_INVALID")
    assert not Blob.objects.exists()


def test_pushing_the_same_content_twice_keeps_one_blob(client, registry, storage_root):
    registry.push_blob("library/app", DATA)
    registry.push_blob("library/app", DATA)
    registry.push_blob("library/other", DATA)
    assert Blob.objects.filter(digest=DIGEST).count() == 1
    assert RepositoryBlob.objects.filter(blob__digest=DIGEST).count() == 2
    assert len(stored_files(storage_root, "blobs")) == 1


def test_push_creates_the_repository(client, registry):
    registry.push_blob("team/app", DATA)
    assert client.get("/v2/_catalog").json() == {"repositories": ["team/app"]}


def test_sha512_digest_is_accepted(client):
    digest = "sha512:" + hashlib.sha512(DATA).hexdigest()
    response = client.post(
        f"/v2/library/app/blobs/uploads/?digest={digest}", DATA, content_type="application/octet-stream"
    )
    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == digest
    assert b"".join(client.get(f"/v2/library/app/blobs/{digest}").streaming_content) == DATA


# --- ?digest-algorithm= on POST (distribution-spec: 400 for an algorithm we cannot verify) ----


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_digest_algorithm_we_verify_starts_a_session_for_it(client, algorithm):
    response = client.post(f"/v2/library/app/blobs/uploads/?digest-algorithm={algorithm}")
    assert response.status_code == 202
    assert Upload.objects.get(pk=response["Docker-Upload-UUID"]).digest_algorithm == algorithm
    digest = f"{algorithm}:{hashlib.new(algorithm, DATA).hexdigest()}"
    done = client.put(f"{response['Location']}?digest={digest}", DATA, content_type="application/octet-stream")
    assert done.status_code == 201
    assert done["Docker-Content-Digest"] == digest
    assert b"".join(client.get(f"/v2/library/app/blobs/{digest}").streaming_content) == DATA


@pytest.mark.parametrize("algorithm", ["md5", "sha384", "SHA256", "blake3", "", "sha256/../x"])
def test_digest_algorithm_we_cannot_verify_is_400_unsupported_and_starts_nothing(client, storage_root, algorithm):
    response = client.post(f"/v2/library/app/blobs/uploads/?digest-algorithm={algorithm}")
    entry = assert_error(response, 400, "UNSUPPORTED")
    assert entry["detail"]["supported"] == ["sha256", "sha512"]
    assert not Upload.objects.exists() and not Repository.objects.exists()
    assert stored_files(storage_root, "uploads") == []


def test_unsupported_digest_algorithm_refuses_a_single_post_before_its_body(client, storage_root):
    response = client.post(
        f"/v2/library/app/blobs/uploads/?digest-algorithm=md5&digest={DIGEST}", DATA,
        content_type="application/octet-stream",
    )
    assert_error(response, 400, "UNSUPPORTED")
    assert not Blob.objects.exists()
    assert stored_files(storage_root, "blobs") == []


# --- the repository comes with its first blob, not with a session --------------------------------


def test_bare_post_creates_no_repository(client):
    location = client.post("/v2/team/fresh/blobs/uploads/")["Location"]
    assert client.get("/v2/_catalog").json() == {"repositories": []}
    assert_error(client.get("/v2/team/fresh/tags/list"), 404, "NAME_UNKNOWN")
    assert not Repository.objects.exists()
    # The session works without the row, and its commit creates the repository.
    assert client.patch(location, DATA, content_type="application/octet-stream").status_code == 202
    assert client.put(f"{location}?digest={DIGEST}").status_code == 201
    assert client.get("/v2/_catalog").json() == {"repositories": ["team/fresh"]}
    assert client.get("/v2/team/fresh/tags/list").json() == {"name": "team/fresh", "tags": []}


def test_cancelled_and_failed_uploads_create_no_repository(client):
    location = client.post("/v2/team/fresh/blobs/uploads/")["Location"]
    assert client.delete(location).status_code == 204
    wrong = sha256(b"something else")
    response = client.post(f"/v2/team/fresh/blobs/uploads/?digest={wrong}", DATA, content_type="application/octet-stream")
    assert_error(response, 400, "DIGEST_INVALID")
    location = client.post("/v2/team/fresh/blobs/uploads/")["Location"]
    assert_error(client.put(f"{location}?digest={wrong}", DATA, content_type="application/octet-stream"), 400, "DIGEST_INVALID")
    assert not Repository.objects.exists()
    assert_error(client.get("/v2/team/fresh/tags/list"), 404, "NAME_UNKNOWN")


def test_deleting_a_repository_cancels_its_sessions(client, registry, storage_root):
    registry.push_blob("team/app", DATA)
    location = client.post("/v2/team/app/blobs/uploads/")["Location"]
    client.patch(location, DATA[:10], content_type="application/octet-stream")
    repository_delete(name="team/app")
    assert not Upload.objects.exists()
    assert stored_files(storage_root, "uploads") == []
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
