"""Tag immutability per repository: a push may not move an existing tag (403 DENIED)."""
from __future__ import annotations

import pytest

from registry_api.models import Manifest, Repository, Tag
from tests import builders

from .support import assert_error

NAME = "library/app"


@pytest.fixture
def immutable(registry, pushed_image):
    Repository.objects.filter(name=NAME).update(immutable_tags=True)
    return pushed_image


@pytest.fixture
def other(registry) -> builders.Image:
    img = builders.image("other")
    for blob in img.blobs:
        registry.push_blob(NAME, blob)
    return img


def test_moving_an_immutable_tag_is_denied_with_a_reason(registry, immutable, other):
    error = assert_error(registry.put_manifest(NAME, "latest", other.manifest), 403, "DENIED")
    assert error["message"] == (
        f"tag latest is immutable in repository {NAME}: it already points at {immutable.manifest.digest}; "
        "push under a new tag"
    )
    assert error["detail"] == {"tag": "latest", "digest": immutable.manifest.digest}
    assert Tag.objects.get(name="latest").manifest.digest == immutable.manifest.digest
    assert not Manifest.objects.filter(digest=other.manifest.digest).exists()  # nothing half-stored


def test_moving_it_with_a_tag_parameter_is_denied_too(registry, immutable, other):
    response = registry.put_manifest(NAME, f"{other.manifest.digest}?tag=new&tag=latest", other.manifest)
    assert_error(response, 403, "DENIED")
    assert not Tag.objects.filter(name="new").exists()


def test_pushing_the_same_digest_again_and_new_tags_are_fine(registry, immutable, other):
    assert registry.put_manifest(NAME, "latest", immutable.manifest).status_code == 201
    assert registry.put_manifest(NAME, "v2", other.manifest).status_code == 201
    assert registry.put_manifest(NAME, other.manifest.digest, other.manifest).status_code == 201


def test_tags_move_freely_in_a_mutable_repository(registry, pushed_image, other):
    assert registry.put_manifest(NAME, "latest", other.manifest).status_code == 201
    assert Tag.objects.get(name="latest").manifest.digest == other.manifest.digest


def test_immutability_is_switched_on_in_the_admin(admin_client, pushed_image):
    repository = Repository.objects.get(name=NAME)
    page = admin_client.get(f"/admin/registry_api/repository/{repository.pk}/change/")
    assert b'name="immutable_tags"' in page.content
    response = admin_client.post(f"/admin/registry_api/repository/{repository.pk}/change/", {
        "public": "", "immutable_tags": "on",
        "grants-TOTAL_FORMS": "0", "grants-INITIAL_FORMS": "0",
        "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content[:2000]
    repository.refresh_from_db()
    assert repository.immutable_tags


def test_deleting_an_immutable_tag_is_denied_so_it_cannot_be_pushed_again_elsewhere(client, registry, immutable, other):
    error = assert_error(client.delete(f"/v2/{NAME}/manifests/latest"), 403, "DENIED")
    assert error["message"].startswith(f"tags are immutable in repository {NAME}: deleting latest would let")
    assert_error(client.delete(f"/v2/{NAME}/manifests/{immutable.manifest.digest}"), 403, "DENIED")  # takes its tag
    assert Tag.objects.get(name="latest").manifest.digest == immutable.manifest.digest
    registry.put_manifest(NAME, other.manifest.digest, other.manifest)  # untagged: may go
    assert client.delete(f"/v2/{NAME}/manifests/{other.manifest.digest}").status_code == 202


def test_a_repository_admin_deletes_an_immutable_tag_in_the_admin(admin_client, immutable):
    tag = Tag.objects.get(name="latest")
    response = admin_client.post(f"/admin/registry_api/tag/{tag.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Tag.objects.exists()
