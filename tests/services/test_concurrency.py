"""Concurrent pushes of the same blob, repository and tag, from threads with their own
database connections: on PostgreSQL these really run at once, and the constraints and row
locks (registry_api/db/locking.py) must keep every push correct. SQLite serializes writers
by design (IMMEDIATE transactions), and its in-memory test database cannot be shared by
threads, so this runs on PostgreSQL only."""
from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from registry_api.models import Blob, Manifest, Repository, RepositoryBlob, Tag
from registry_api.services.blobs import blob_delete
from registry_api.services.manifests import manifest_put
from registry_api.services.uploads import upload_monolithic
from tests import builders

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
                       reason="concurrent writers need PostgreSQL"),
]

THREADS = 8


def at_once(work, count: int = THREADS) -> list:
    """Run `work(i)` in `count` threads released together; the exceptions they raised."""
    barrier, errors = threading.Barrier(count), []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)
        finally:
            connection.close()  # each thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _push_blob(name: str, data: bytes) -> None:
    upload_monolithic(repository_name=name, digest=builders.sha256(data), chunks=[data], declared_length=len(data))


def test_the_same_blob_pushed_at_once_into_a_new_repository(store):
    data = b"one layer, many pushers"
    assert at_once(lambda i: _push_blob("race/new", data)) == []
    assert Repository.objects.filter(name="race/new").count() == 1
    assert Blob.objects.filter(digest=builders.sha256(data)).count() == 1
    assert RepositoryBlob.objects.count() == 1


def test_the_same_tag_pushed_at_once_points_at_one_of_the_manifests(store):
    images = [builders.image(f"tag-race-{i}") for i in range(THREADS)]
    for img in images:
        for blob in img.blobs:
            store.push_blob("race/tag", blob)

    def push(i: int) -> None:
        manifest_put(repository_name="race/tag", reference="latest",
                     payload=images[i].manifest.data, content_type=images[i].manifest.media_type)

    assert at_once(push) == []
    assert Manifest.objects.filter(repository__name="race/tag").count() == THREADS
    tag = Tag.objects.get(repository__name="race/tag", name="latest")
    assert tag.manifest.digest in {img.manifest.digest for img in images}


def test_the_same_image_pushed_at_once_into_many_repositories_shares_its_blobs(store):
    img = builders.image("shared-race")

    def push(i: int) -> None:
        store.push_image(f"race/many-{i % 3}", "v1", img)

    assert at_once(push) == []
    assert Blob.objects.count() == len(img.blobs)
    assert Manifest.objects.count() == 3 and Tag.objects.count() == 3


def test_a_manifest_push_racing_a_blob_unlink_never_names_an_unlinked_blob(store):
    img = builders.image("unlink-race")
    for blob in img.blobs:
        store.push_blob("race/unlink", blob)

    def work(i: int) -> None:
        if i == 0:
            blob_delete(repository_name="race/unlink", digest=img.layers[0].digest)
        else:
            try:
                manifest_put(repository_name="race/unlink", reference=f"t{i}",
                             payload=img.manifest.data, content_type=img.manifest.media_type)
            except Exception as exc:
                if type(exc).__name__ != "ManifestBlobUnknown":
                    raise

    assert at_once(work, 4) == []
    linked = RepositoryBlob.objects.filter(repository__name="race/unlink", blob__digest=img.layers[0].digest).exists()
    assert not linked  # the unlink won; manifests that landed before it keep their reference rows
