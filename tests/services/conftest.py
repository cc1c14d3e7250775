"""Fixtures for service tests: a real database, blobs under tmp_path, and content pushed
through the services themselves (tests/builders.py makes it, with true digests)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from registry_api.models import Blob, Manifest, RepositoryBlob, Tag, Upload
from registry_api.services.manifests import manifest_put
from registry_api.services.uploads import upload_monolithic
from storage_backends import get_storage
from tests import builders


@pytest.fixture(autouse=True)
def storage_root(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    get_storage.cache_clear()
    yield tmp_path
    get_storage.cache_clear()


class Store:
    """Push through the services, as the /v2/ views do, and look at what is stored."""

    def push_blob(self, name: str, blob: builders.Blob | bytes) -> str:
        data = blob if isinstance(blob, bytes) else blob.data
        digest = builders.sha256(data)
        upload_monolithic(repository_name=name, digest=digest, chunks=[data], declared_length=len(data))
        return digest

    def push_manifest(self, name: str, reference: str, manifest: builders.Blob, tags: list[str] = ()) -> str:
        return manifest_put(
            repository_name=name, reference=reference, payload=manifest.data,
            content_type=manifest.media_type, extra_tags=list(tags),
        ).manifest.digest

    def push_image(self, name: str, reference: str, image: builders.Image) -> str:
        for blob in image.blobs:
            self.push_blob(name, blob)
        return self.push_manifest(name, reference, image.manifest)

    def age_everything(self, seconds: int = 2 * 3600) -> None:
        """Make every row older than the grace period, as if pushed hours ago."""
        then = timezone.now() - timedelta(seconds=seconds)
        for model in (Blob, RepositoryBlob, Manifest):
            model.objects.update(created_at=then)
        Tag.objects.update(updated_at=then)
        Upload.objects.update(started_at=then)

    def manifests(self) -> set[tuple[str, str]]:
        return set(Manifest.objects.values_list("repository__name", "digest"))

    def blobs(self) -> set[str]:
        return set(Blob.objects.values_list("digest", flat=True))

    def files(self) -> set[str]:
        return {item.name for item in get_storage().walk("blobs")}

    def links(self) -> set[tuple[str, str]]:
        return set(RepositoryBlob.objects.values_list("repository__name", "blob__digest"))


@pytest.fixture
def store() -> Store:
    return Store()
