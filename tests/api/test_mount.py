"""Cross-repository mounts: POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>."""
from __future__ import annotations

import pytest

from registry_api.models import RepositoryBlob, Upload

from .support import assert_error, sha256

DATA = b"a shared base layer\n" * 50
DIGEST = sha256(DATA)


@pytest.fixture
def in_base(registry):
    registry.push_blob("library/base", DATA)


def mount(client, name: str, digest: str, source: str | None):
    query = f"mount={digest}" + (f"&from={source}" if source is not None else "")
    return client.post(f"/v2/{name}/blobs/uploads/?{query}")


def test_mount_from_a_repository_holding_the_blob_is_201(client, in_base):
    response = mount(client, "library/app", DIGEST, "library/base")
    assert response.status_code == 201
    assert response["Location"] == f"/v2/library/app/blobs/{DIGEST}"
    assert response["Docker-Content-Digest"] == DIGEST
    assert b"".join(client.get(response["Location"]).streaming_content) == DATA
    assert not Upload.objects.exists()


def test_mount_keeps_the_blob_in_the_source(client, in_base):
    mount(client, "library/app", DIGEST, "library/base")
    assert client.head(f"/v2/library/base/blobs/{DIGEST}").status_code == 200
    assert RepositoryBlob.objects.filter(blob__digest=DIGEST).count() == 2


def test_mount_into_a_repository_that_already_has_the_blob_is_201(client, registry, in_base):
    registry.push_blob("library/app", DATA)
    assert mount(client, "library/app", DIGEST, "library/base").status_code == 201


def test_mount_of_a_blob_the_source_lacks_starts_a_session(client, registry, in_base):
    registry.push_blob("library/elsewhere", b"other content")
    # The blob exists in the registry but not in `from`: no read right through `from`.
    response = mount(client, "library/app", DIGEST, "library/elsewhere")
    assert response.status_code == 202
    assert response["Location"].startswith("/v2/library/app/blobs/uploads/")
    assert response["Range"] == "0-0"
    assert client.head(f"/v2/library/app/blobs/{DIGEST}").status_code == 404


@pytest.mark.parametrize("source", ["library/missing", "Not/A/Valid/Name", "", None])
def test_mount_without_a_usable_source_starts_a_session(client, in_base, source):
    response = mount(client, "library/app", DIGEST, source)
    assert response.status_code == 202
    assert Upload.objects.filter(pk=response["Docker-Upload-UUID"]).exists()


def test_session_from_a_failed_mount_can_push_the_blob(client, in_base):
    location = mount(client, "library/app", DIGEST, "library/missing")["Location"]
    response = client.put(f"{location}?digest={DIGEST}", DATA, content_type="application/octet-stream")
    assert response.status_code == 201


@pytest.mark.parametrize(
    "digest", ["sha256:nothex", "sha256:" + "a" * 63, "md5:" + "a" * 32, "no-colon", "SHA256:" + "a" * 64]
)
def test_bad_mount_digest_is_400_digest_invalid(client, in_base, digest):
    assert_error(mount(client, "library/app", digest, "library/base"), 400, "DIGEST_INVALID")
    assert not Upload.objects.exists()


def test_mount_into_an_invalid_name_is_name_invalid(client, in_base):
    assert_error(mount(client, "Library/App", DIGEST, "library/base"), 400, "NAME_INVALID")
