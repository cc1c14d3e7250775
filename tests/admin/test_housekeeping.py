"""Housekeeping in the admin: garbage collection previewed then confirmed, stale uploads,
storage by namespace, retention preview; only superusers run anything."""
from __future__ import annotations

import os
import re
import time

import pytest
from django.contrib.messages import get_messages

from registry_api.models import Blob, Namespace, Repository, RepositoryBlob, RetentionPolicy, Upload
from registry_api.services.uploads import upload_start
from tests import builders

GC = "/admin/registry_api/garbagecollection/"
UPLOADS = "/admin/registry_api/staleupload/"
USAGE = "/admin/registry_api/namespaceusage/"


@pytest.fixture
def garbage(store):
    """An image whose tag was deleted, and a layer pushed but never used, all hours old."""
    img = builders.image("gone")
    store.push_image("team/app", img.manifest.digest, img)
    stray = store.push_blob("team/app", b"never used")
    store.age_everything()
    return img, stray


def test_the_pages_are_on_the_admin_index(root_client):
    page = root_client.get("/admin/").content.decode()
    for path in (GC, UPLOADS, USAGE, "/admin/registry_api/retentionpolicy/"):
        assert f'href="{path}"' in page


def test_gc_preview_lists_what_would_go_and_why_and_deletes_nothing(root_client, garbage):
    img, stray = garbage
    page = root_client.get(GC + "?delete_untagged=on").content.decode()
    assert "1 manifest(s), 4 repository link(s), 4 blob(s)" in page
    assert img.manifest.digest in page and "untagged, and no tag, index or subject reaches it" in page
    assert stray in page and "no manifest of the repository references it" in page
    assert 'value="Run garbage collection now"' in page
    sizes = re.findall(r'<td title="(\d+) bytes">([^<]+)</td>', page)  # binary units, the exact count on hover
    assert sizes and all(text.endswith(("bytes", "byte", "KiB", "MiB")) for _, text in sizes)
    assert Blob.objects.count() == 4


def _preview(client, query: str = "?delete_untagged=on") -> str:
    """The preview page's signed plan, as its confirm button posts it."""
    page = client.get(GC + query).content.decode()
    assert "Confirming runs this preview: it deletes only the" in page
    return re.search(r'name="plan" value="([^"]+)"', page).group(1)


def _confirm(client, plan: str):
    return client.post(GC + "?delete_untagged=on", {"delete_untagged": "on", "plan": plan, "confirm": "1"})


def test_gc_runs_when_a_superuser_confirms(root_client, garbage):
    response = _confirm(root_client, _preview(root_client))
    assert response.status_code == 302
    assert not Blob.objects.exists()
    message = str(next(iter(get_messages(response.wsgi_request))))
    assert message.startswith("Garbage collection deleted 1 manifest(s), 4 repository link(s) and 4 blob(s)")


def test_the_confirmed_run_deletes_only_what_was_previewed_and_is_still_garbage(root_client, store, garbage):
    img, stray = garbage
    plan = _preview(root_client)
    later = store.push_blob("team/other", b"garbage made after the preview")
    RepositoryBlob.objects.filter(blob__digest=later).delete()
    store.push_manifest("team/app", "v2", img.manifest)  # the previewed image is tagged again
    store.age_everything()

    response = _confirm(root_client, plan)

    assert set(Blob.objects.values_list("digest", flat=True)) == {later, *(b.digest for b in img.blobs)}
    message = str(next(iter(get_messages(response.wsgi_request))))
    assert "1 repository link(s) and 1 blob(s) of the preview" in message  # the stray layer only
    assert "7 previewed item(s) kept because they were in use again" in message  # the image, its links and blobs


def test_a_confirmation_without_a_valid_preview_deletes_nothing(root_client, garbage):
    for plan in ("", "forged:token"):
        response = _confirm(root_client, plan)
        assert response.status_code == 302 and Blob.objects.count() == 4
        assert str(next(iter(get_messages(response.wsgi_request)))).startswith("Nothing was deleted: the preview")


def test_staff_may_preview_but_not_run(viewer_client, garbage):
    page = viewer_client.get(GC).content.decode()
    assert "blob(s)" in page and "Run garbage collection now" not in page
    assert viewer_client.post(GC, {"confirm": "1"}).status_code == 403
    assert Blob.objects.count() == 4


def test_the_pages_are_closed_to_non_staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    for path in (GC, UPLOADS, USAGE):
        assert client.get(path).status_code == 302


def test_stale_uploads_are_listed_then_purged(root_client, store, storage_root):
    upload = upload_start(repository_name="team/app")
    store.age_everything(48 * 3600)
    then = time.time() - 48 * 3600
    os.utime(storage_root / "uploads" / str(upload.id), (then, then))
    page = root_client.get(UPLOADS).content.decode()
    assert str(upload.id) in page and "abandoned session" in page
    response = root_client.post(UPLOADS, {"confirm": "1"})
    assert response.status_code == 302 and not Upload.objects.exists()


def test_storage_by_namespace_shows_usage_beside_quota(root_client, store):
    Namespace.objects.create(name="team", quota_bytes=4096)
    store.push_blob("team/a", b"a" * 1024)
    store.push_blob("team/b", b"a" * 1024)
    store.push_blob("other/c", b"a" * 1024)
    store.push_blob("other/c", b"c" * 2048)
    page = re.sub(r">\s+<", "><", root_client.get(USAGE).content.decode())
    assert "<td>team</td><td>1.0 KiB</td><td>0 bytes</td><td>4.0 KiB</td><td>25 %</td>" in page
    assert "<td>other</td><td>3.0 KiB</td><td>2.0 KiB</td><td>unlimited</td><td>—</td>" in page
    assert "Physical usage: 3.0 KiB; attributed usage summed over namespaces: 4.0 KiB" in page


def test_retention_policies_show_what_they_would_delete(root_client, store):
    img = builders.image("app")
    for tag in ("v1", "v2"):
        store.push_image("team/app", tag, img)
    RetentionPolicy.objects.create(repository=Repository.objects.get(name="team/app"), keep_last=1)
    page = root_client.get("/admin/registry_api/retentionpolicy/").content.decode()
    assert "What the enabled policies would delete now: 1 tag(s)" in page
    assert "team/app:v1" in page or "team/app:v2" in page
