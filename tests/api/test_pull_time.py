"""Tag.last_pulled_at (a retention criterion): written on manifest GET, at most once a minute."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from registry_api.models import Tag

NAME = "library/app"


def _pulled(tag: str = "latest"):
    return Tag.objects.get(repository__name=NAME, name=tag).last_pulled_at


def test_a_get_by_tag_records_the_pull(client, pushed_image):
    assert _pulled() is None
    assert client.get(f"/v2/{NAME}/manifests/latest").status_code == 200
    assert timezone.now() - _pulled() < timedelta(seconds=5)


def test_a_head_is_not_a_pull(client, pushed_image):
    client.head(f"/v2/{NAME}/manifests/latest")
    assert _pulled() is None


def test_a_get_by_digest_records_it_on_every_tag_of_the_manifest(client, registry, pushed_image):
    registry.push_manifest(NAME, "stable", pushed_image.manifest)
    client.get(f"/v2/{NAME}/manifests/{pushed_image.manifest.digest}")
    assert _pulled("latest") is not None and _pulled("stable") is not None


def test_pulls_within_a_minute_write_nothing(client, pushed_image, django_assert_num_queries):
    recent = timezone.now() - timedelta(seconds=30)
    Tag.objects.update(last_pulled_at=recent)
    with django_assert_num_queries(1):  # the manifest lookup, and no write
        client.get(f"/v2/{NAME}/manifests/latest")
    assert _pulled() == recent
    Tag.objects.update(last_pulled_at=timezone.now() - timedelta(minutes=2))
    client.get(f"/v2/{NAME}/manifests/latest")
    assert timezone.now() - _pulled() < timedelta(seconds=5)


def test_a_conditional_get_answered_304_is_a_pull_too(client, pushed_image):
    digest = pushed_image.manifest.digest
    assert client.get(f"/v2/{NAME}/manifests/latest", HTTP_IF_NONE_MATCH=f'"{digest}"').status_code == 304
    assert _pulled() is not None


def test_a_pull_succeeds_even_when_its_time_cannot_be_written(client, pushed_image, monkeypatch):
    from django.db import OperationalError
    from django.db.models import QuerySet

    def locked(self, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(QuerySet, "update", locked)
    assert client.get(f"/v2/{NAME}/manifests/latest").status_code == 200
