"""DELETE of manifests (by digest or tag) and blobs, and the switch that disables deletes."""
from __future__ import annotations

import pytest

from registry_api.models import Blob, Manifest, Tag
from tests import builders

from .support import assert_error, sha256

NAME = "library/app"


@pytest.fixture
def tagged_twice(registry, pushed_image):
    registry.push_manifest(NAME, "stable", pushed_image.manifest)
    return pushed_image


def test_delete_manifest_by_digest_removes_it_and_every_tag(client, tagged_twice):
    digest = tagged_twice.manifest.digest
    response = client.delete(f"/v2/{NAME}/manifests/{digest}")
    assert response.status_code == 202
    assert_error(client.get(f"/v2/{NAME}/manifests/{digest}"), 404, "MANIFEST_UNKNOWN")
    assert_error(client.get(f"/v2/{NAME}/manifests/latest"), 404, "MANIFEST_UNKNOWN")
    assert client.head(f"/v2/{NAME}/manifests/stable").status_code == 404
    assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == []


def test_delete_manifest_keeps_its_blobs(client, tagged_twice):
    client.delete(f"/v2/{NAME}/manifests/{tagged_twice.manifest.digest}")
    for blob in tagged_twice.blobs:
        assert client.head(f"/v2/{NAME}/blobs/{blob.digest}").status_code == 200


def test_delete_by_tag_removes_only_the_tag(client, tagged_twice):
    digest = tagged_twice.manifest.digest
    response = client.delete(f"/v2/{NAME}/manifests/latest")
    assert response.status_code == 202
    assert_error(client.get(f"/v2/{NAME}/manifests/latest"), 404, "MANIFEST_UNKNOWN")
    assert client.get(f"/v2/{NAME}/manifests/stable").status_code == 200
    assert client.get(f"/v2/{NAME}/manifests/{digest}").status_code == 200
    assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["stable"]


def test_delete_of_a_manifest_in_another_repository_leaves_it(client, registry, pushed_image):
    registry.push_image("library/copy", "latest", pushed_image)
    assert client.delete(f"/v2/library/copy/manifests/{pushed_image.manifest.digest}").status_code == 202
    assert client.get(f"/v2/{NAME}/manifests/latest").status_code == 200


def test_delete_of_an_index_child_keeps_the_index(client, registry):
    img = builders.image("child")
    registry.push_image(NAME, img.manifest.digest, img)
    idx = builders.index([img])
    registry.push_manifest(NAME, "multi", idx)
    assert client.delete(f"/v2/{NAME}/manifests/{img.manifest.digest}").status_code == 202
    assert client.get(f"/v2/{NAME}/manifests/multi").content == idx.data


def test_delete_of_unknown_manifest_is_manifest_unknown(client, pushed_image):
    assert_error(client.delete(f"/v2/{NAME}/manifests/{sha256(b'nope')}"), 404, "MANIFEST_UNKNOWN")
    assert_error(client.delete(f"/v2/{NAME}/manifests/nope"), 404, "MANIFEST_UNKNOWN")


def test_delete_in_unknown_repository_is_name_unknown(client):
    assert_error(client.delete("/v2/library/nowhere/manifests/latest"), 404, "NAME_UNKNOWN")
    assert_error(client.delete(f"/v2/library/nowhere/blobs/{sha256(b'x')}"), 404, "NAME_UNKNOWN")


def test_delete_blob_is_202_then_404(client, registry):
    digest = registry.push_blob(NAME, b"to be deleted")
    response = client.delete(f"/v2/{NAME}/blobs/{digest}")
    assert response.status_code == 202
    assert_error(client.get(f"/v2/{NAME}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert client.head(f"/v2/{NAME}/blobs/{digest}").status_code == 404
    assert_error(client.delete(f"/v2/{NAME}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_delete_blob_only_unlinks_it_from_that_repository(client, registry):
    digest = registry.push_blob(NAME, b"shared")
    registry.push_blob("library/other", b"shared")
    client.delete(f"/v2/{NAME}/blobs/{digest}")
    assert client.head(f"/v2/library/other/blobs/{digest}").status_code == 200
    assert Blob.objects.filter(digest=digest).exists()


def test_delete_of_unknown_blob_is_blob_unknown(client, registry):
    registry.push_blob(NAME, b"something")
    assert_error(client.delete(f"/v2/{NAME}/blobs/{sha256(b'nope')}"), 404, "BLOB_UNKNOWN")


@pytest.mark.parametrize(
    "path",
    [
        "/v2/library/app/manifests/latest",
        "/v2/library/app/manifests/{manifest}",
        "/v2/library/app/blobs/{config}",
    ],
)
def test_deletes_disabled_are_405_unsupported(client, settings, pushed_image, path):
    settings.REGISTRY_DELETE_ENABLED = False
    url = path.format(manifest=pushed_image.manifest.digest, config=pushed_image.config.digest)
    assert_error(client.delete(url), 405, "UNSUPPORTED")
    assert Manifest.objects.count() == 1
    assert Tag.objects.count() == 1
    assert client.head(f"/v2/{NAME}/blobs/{pushed_image.config.digest}").status_code == 200


def test_upload_cancel_is_allowed_when_deletes_are_disabled(client, settings):
    settings.REGISTRY_DELETE_ENABLED = False
    location = client.post(f"/v2/{NAME}/blobs/uploads/")["Location"]
    assert client.delete(location).status_code == 204
