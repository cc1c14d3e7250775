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


def test_every_model_of_the_registry_is_in_the_admin():
    from django.apps import apps
    from django.contrib import admin

    missing = [m.__name__ for m in apps.get_app_config("registry_api").get_models() if m not in admin.site._registry]
    assert missing == []


def test_login_throttles_are_listed_read_only(as_person, content: Content):
    from django.utils import timezone

    from registry_api.models import LoginThrottle

    throttle = LoginThrottle.objects.create(key="user:mallory", failures=7, window_started_at=timezone.now())
    client = as_person("root")
    page = client.get("/admin/registry_api/loginthrottle/").content.decode()
    assert "user:mallory" in page and "Add login throttle" not in page
    assert client.get(f"/admin/registry_api/loginthrottle/{throttle.pk}/delete/").status_code == 403
    assert 'name="failures"' not in client.get(f"/admin/registry_api/loginthrottle/{throttle.pk}/change/").content.decode()


def test_repository_list_shows_tag_counts_sizes_and_effective_visibility(as_person, content: Content):
    import re

    from registry_api.lib.units import format_bytes

    page = as_person("root").get("/admin/registry_api/repository/").content.decode()
    rows = {re.search(r">([a-z]+/[a-z]+)</a>", row).group(1): row
            for row in page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("</tr>")[:-1]}
    app_size = sum(len(b.data) for img in (content.v1, content.v2) for b in img.blobs)
    assert '<td class="field-tag_count">2</td>' in rows["team/app"]
    shown = format_bytes(app_size).replace(" ", "\u00a0")  # a no-break space: the column does not wrap
    assert f'<td class="field-repository_size">{shown}</td>' in rows["team/app"]
    assert "public via its namespace" in rows["pub/tool"] and "private" in rows["secret/box"]
    filtered = as_person("root").get("/admin/registry_api/repository/", {"namespace": "team"}).content.decode()
    assert "team/app" in filtered and "pub/tool" not in filtered and "secret/box" not in filtered


def test_tag_list_filters_by_namespace(as_person, content: Content):
    page = as_person("root").get("/admin/registry_api/tag/", {"namespace": "pub"}).content.decode()
    assert "pub/tool" in page and "team/app" not in page
    assert '?namespace=secret"' in as_person("root").get("/admin/registry_api/tag/").content.decode()


def test_image_lists_link_to_the_housekeeping_pages(as_person, content: Content):
    client = as_person("root")
    for model in ("blob", "manifest"):
        page = client.get(f"/admin/registry_api/{model}/").content.decode()
        assert 'href="/admin/registry_api/garbagecollection/" id="gc-link">Garbage collection (dry run first)' in page
    uploads = client.get("/admin/registry_api/upload/").content.decode()
    assert 'href="/admin/registry_api/staleupload/" id="stale-uploads-link"' in uploads


def test_sizes_in_the_admin_use_binary_units(as_person, content: Content):
    page = as_person("root").get("/admin/registry_api/blob/").content.decode()
    import re

    sizes = re.findall(r'<td class="field-blob_size">([^<]+)</td>', page)
    assert sizes and all(re.fullmatch(r"\d+\u00a0bytes|\d+\.\d\u00a0KiB", size) for size in sizes), sizes


def test_deleting_a_listed_image_in_the_admin_warns(as_person, content: Content):
    from django.contrib.messages import get_messages

    manifest = Manifest.objects.get(repository__name="team/multi", digest=content.arm64.manifest.digest)
    response = as_person("root").post(f"/admin/registry_api/manifest/{manifest.pk}/delete/", {"post": "yes"})
    assert not Manifest.objects.filter(pk=manifest.pk).exists()
    assert any("was listed by an index" in str(m) for m in get_messages(response.wsgi_request))
