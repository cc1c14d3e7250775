"""The invariants the database itself enforces (registry_api/models/), whatever code writes the rows:
unique blob digests, one tag name per repository, no negative sizes, digests well formed."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from registry_api.models import Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag
from tests.builders import sha256

pytestmark = pytest.mark.django_db

DIGEST = sha256(b"content")


@pytest.fixture
def repository() -> Repository:
    return Repository.objects.create(name="team/app")


@pytest.fixture
def manifest(repository) -> Manifest:
    return Manifest.objects.create(
        repository=repository, digest=sha256(b"{}"), media_type="application/vnd.oci.image.manifest.v1+json",
        payload=b"{}", size=2,
    )


def refused(**kwargs):
    """The block must violate a constraint; the savepoint keeps the test's transaction usable."""
    return pytest.raises(IntegrityError, **kwargs)


def test_a_blob_digest_is_stored_once():
    Blob.objects.create(digest=DIGEST, size=7)
    with refused(), transaction.atomic():
        Blob.objects.create(digest=DIGEST, size=7)


@pytest.mark.parametrize("model", ["blob", "manifest"])
def test_a_negative_size_is_refused(repository, model):
    with refused(), transaction.atomic():
        if model == "blob":
            Blob.objects.create(digest=DIGEST, size=-1)
        else:
            Manifest.objects.create(repository=repository, digest=DIGEST, media_type="x", payload=b"", size=-1)


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "a" * 32, "SHA256:" + "a" * 64, "sha256:" + "A" * 64,
                                    DIGEST + "\n"])
def test_a_malformed_digest_is_refused(digest):
    with refused(), transaction.atomic():
        Blob.objects.create(digest=digest, size=1)


def test_a_zero_size_blob_and_a_sha512_digest_are_fine():
    Blob.objects.create(digest="sha512:" + "0" * 128, size=0)


def test_a_tag_name_is_unique_within_a_repository(repository, manifest):
    Tag.objects.create(repository=repository, name="v1", manifest=manifest)
    with refused(), transaction.atomic():
        Tag.objects.create(repository=repository, name="v1", manifest=manifest)
    other = Repository.objects.create(name="team/other")
    Tag.objects.create(repository=other, name="v1", manifest=manifest)  # another repository may


def test_a_manifest_digest_is_unique_within_a_repository(repository, manifest):
    with refused(), transaction.atomic():
        Manifest.objects.create(repository=repository, digest=manifest.digest, media_type="x", payload=b"{}", size=2)


def test_a_blob_is_linked_into_a_repository_once(repository):
    blob = Blob.objects.create(digest=DIGEST, size=7)
    RepositoryBlob.objects.create(repository=repository, blob=blob)
    with refused(), transaction.atomic():
        RepositoryBlob.objects.create(repository=repository, blob=blob)


def test_a_repository_name_is_unique(repository):
    with refused(), transaction.atomic():
        Repository.objects.create(name="team/app")


@pytest.mark.parametrize("child", ["", "both"])
def test_a_reference_is_a_blob_or_a_child_manifest_never_both_nor_neither(manifest, child):
    blob = Blob.objects.create(digest=DIGEST, size=7)
    with refused(), transaction.atomic():
        ManifestReference.objects.create(
            manifest=manifest, blob=blob if child == "both" else None, child_digest=DIGEST if child else ""
        )


def test_a_blob_a_manifest_needs_cannot_be_deleted(manifest):
    blob = Blob.objects.create(digest=DIGEST, size=7)
    ManifestReference.objects.create(manifest=manifest, blob=blob)
    with pytest.raises(ProtectedError), transaction.atomic():
        blob.delete()
