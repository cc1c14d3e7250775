"""A manifest by tag is found through the tag's unique (repository, name), whatever the
number of manifests in the repository: a pull by tag must not slow down as CI pushes pile up."""
from __future__ import annotations

import hashlib

import pytest
from django.db import connection

from registry_api.models import Manifest, Repository, Tag
from registry_api.services.manifests import _BY_TAG, manifest_get

pytestmark = pytest.mark.django_db


def _many_manifests(count: int) -> Manifest:
    repository = Repository.objects.create(name="ci/app")
    Manifest.objects.bulk_create([
        Manifest(repository=repository, digest="sha256:" + hashlib.sha256(str(i).encode()).hexdigest(),
                 media_type="application/vnd.oci.image.manifest.v1+json", payload=b"{}", size=2)
        for i in range(count)
    ])
    newest = Manifest.objects.filter(repository=repository).order_by("-id").first()
    Tag.objects.create(repository=repository, name="latest", manifest=newest)
    return newest


def test_the_tag_finds_the_newest_of_many_manifests():
    newest = _many_manifests(300)
    assert manifest_get(repository_name="ci/app", reference="latest").pk == newest.pk


@pytest.mark.skipif(connection.vendor != "sqlite", reason="EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans by its statistics")
def test_the_plan_reads_one_tag_and_one_manifest_by_key():
    _many_manifests(300)
    _BY_TAG.first(name="ci/app", tag="latest")  # compiled
    compiled = _BY_TAG._compiled[("default", "sqlite")]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + compiled.sql, ["ci/app", "latest"])
        plan = [row[-1] for row in cursor.fetchall()]
    assert any("registry_api_tag" in step and "repository_id=? AND name=?" in step for step in plan), plan
    assert any("registry_api_manifest USING INTEGER PRIMARY KEY" in step for step in plan), plan
