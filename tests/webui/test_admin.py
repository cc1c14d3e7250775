"""The image models in the Django admin: lists, read-only details, inlines, and deletes
that go through the services."""
from __future__ import annotations

import logging

import pytest

from registry_api.models import Blob, Manifest, Repository, Tag, Upload

from .conftest import Content

pytestmark = pytest.mark.django_db


def _paths(content: Content) -> list[str]:
    repository = Repository.objects.get(name="team/app")
    manifest = Manifest.objects.get(repository=repository, digest=content.v1.manifest.digest)
    tag = Tag.objects.get(repository=repository, name="v1")
    blob = Blob.objects.get(digest=content.v1.layers[0].digest)
    return [
        "/admin/registry_api/repository/", f"/admin/registry_api/repository/{repository.pk}/change/",
        "/admin/registry_api/tag/", "/admin/registry_api/tag/?q=v1", f"/admin/registry_api/tag/{tag.pk}/change/",
        "/admin/registry_api/manifest/", f"/admin/registry_api/manifest/{manifest.pk}/change/",
        "/admin/registry_api/blob/", f"/admin/registry_api/blob/{blob.pk}/change/",
        "/admin/registry_api/upload/",
    ]


def test_admin_pages_open_for_a_superuser(as_person, content: Content):
    client = as_person("root")
    for path in _paths(content):
        assert client.get(path).status_code == 200, path


def test_admin_is_closed_to_non_staff(as_person, content: Content):
    client = as_person("deleter")
    for path in _paths(content):
        assert client.get(path).status_code == 302, path


def test_repository_page_lists_its_tags_and_a_manifest_its_references(as_person, content: Content):
    client = as_person("root")
    repository = Repository.objects.get(name="team/app")
    page = client.get(f"/admin/registry_api/repository/{repository.pk}/change/").content.decode()
    assert content.v1.manifest.digest in page and content.v2.manifest.digest in page
    manifest = Manifest.objects.get(repository=repository, digest=content.v1.manifest.digest)
    page = client.get(f"/admin/registry_api/manifest/{manifest.pk}/change/").content.decode()
    for blob in content.v1.blobs:
        assert blob.digest in page
    assert "&quot;schemaVersion&quot;: 2" in page
    assert 'name="digest"' not in page  # read-only: no input for it


def test_delete_selected_tags_calls_the_service(as_person, content: Content, caplog):
    client = as_person("root")
    tags = list(Tag.objects.filter(repository__name="team/app").values_list("pk", flat=True))
    confirm = client.post("/admin/registry_api/tag/", {"action": "delete_selected", "_selected_action": tags})
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    with caplog.at_level(logging.INFO, logger="registry_api.services.manifests"):
        client.post("/admin/registry_api/tag/", {"action": "delete_selected", "_selected_action": tags, "post": "yes"})
    assert not Tag.objects.filter(repository__name="team/app").exists()
    assert Manifest.objects.filter(repository__name="team/app").count() == 2  # tags only
    assert sorted(r.getMessage() for r in caplog.records if "delete repository" in r.getMessage()) == [
        "delete repository=team/app reference=v1", "delete repository=team/app reference=v2",
    ]


def test_repository_delete_in_the_admin_uses_the_service(as_person, content: Content, caplog):
    client = as_person("root")
    repository = Repository.objects.get(name="team/app")
    with caplog.at_level(logging.INFO, logger="registry_api.services.repositories"):
        client.post(f"/admin/registry_api/repository/{repository.pk}/delete/", {"post": "yes"})
    assert not Repository.objects.filter(name="team/app").exists()
    assert "delete repository=team/app tags=2 manifests=2" in caplog.text


def test_upload_delete_cancels_the_staged_bytes(as_person, content: Content):
    from registry_api.services.uploads import upload_start
    from storage_backends import get_storage
    from storage_backends.base import UploadNotFound

    upload = upload_start(repository_name="team/app")
    as_person("root").post(f"/admin/registry_api/upload/{upload.pk}/delete/", {"post": "yes"})
    assert not Upload.objects.exists()
    with pytest.raises(UploadNotFound):
        get_storage().upload_size(str(upload.pk))


def test_blobs_cannot_be_deleted_or_edited_in_the_admin(as_person, content: Content):
    client = as_person("root")
    blob = Blob.objects.first()
    assert client.get(f"/admin/registry_api/blob/{blob.pk}/delete/").status_code == 403
    page = client.get(f"/admin/registry_api/blob/{blob.pk}/change/").content.decode()
    assert 'name="size"' not in page
