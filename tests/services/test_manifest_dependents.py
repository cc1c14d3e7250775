"""Deleting a manifest that indexes list or referrers point at: /v2/ allows it (as
Distribution does, with a warning in the log), the portal only when told to; and the build
time read from the config at push time (Manifest.image_created) with its backfill."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from registry_api.models import Manifest, Repository
from registry_api.services.dependents import ManifestInUse, manifest_dependents
from registry_api.services.manifests import manifest_delete
from tests import builders


@pytest.fixture
def multi(store):
    """`lib/multi`: an index `latest` of two images, the arm64 one signed."""
    amd64, arm64 = builders.image("m", architecture="amd64"), builders.image("m", architecture="arm64")
    for image in (amd64, arm64):
        store.push_image("lib/multi", image.manifest.digest, image)
    index = builders.index([amd64, arm64])
    store.push_manifest("lib/multi", "latest", index, tags=["2.0"])
    signature = builders.image("sig", layer_count=1, subject=arm64.manifest, artifact_type="application/vnd.example.sig")
    store.push_image("lib/multi", "sha256-sig", signature)
    return amd64, arm64, index, signature


def test_dependents_list_the_indexes_with_their_tags_and_the_referrers(multi):
    amd64, arm64, index, signature = multi
    repository = Repository.objects.get(name="lib/multi")
    found = manifest_dependents(repository=repository, digest=arm64.manifest.digest)
    assert [(i.digest, i.tags, i.platform) for i in found.indexes] == [(index.digest, ["2.0", "latest"], "linux/arm64")]
    assert [(r.digest, r.artifact_type, r.tags) for r in found.referrers] == [
        (signature.manifest.digest, "application/vnd.example.sig", ["sha256-sig"]),
    ]
    assert found and not manifest_dependents(repository=repository, digest=index.digest)


def test_the_portal_path_refuses_unless_allowed(multi):
    _, arm64, _, _ = multi
    with pytest.raises(ManifestInUse) as refused:
        manifest_delete(repository_name="lib/multi", reference=arm64.manifest.digest, allow_dependents=False)
    assert refused.value.code == "DENIED"
    assert Manifest.objects.filter(digest=arm64.manifest.digest).exists()
    manifest_delete(repository_name="lib/multi", reference=arm64.manifest.digest, allow_dependents=True)
    assert not Manifest.objects.filter(digest=arm64.manifest.digest).exists()


def test_v2_delete_keeps_distribution_behaviour_and_warns(multi, caplog):
    amd64, *_ = multi
    with caplog.at_level(logging.WARNING, logger="registry_api.services.manifests"):
        manifest_delete(repository_name="lib/multi", reference=amd64.manifest.digest)  # the /v2/ call
    assert not Manifest.objects.filter(digest=amd64.manifest.digest).exists()
    assert "indexes or referrers still name it" in caplog.text


def test_a_manifest_nobody_depends_on_needs_no_permission(multi):
    _, _, index, _ = multi
    manifest_delete(repository_name="lib/multi", reference=index.digest, allow_dependents=False)
    assert not Manifest.objects.filter(digest=index.digest).exists()


def test_the_build_time_is_read_at_push_time(store):
    dated = builders.image("dated", created="2020-05-06T07:08:09Z")
    store.push_image("lib/dated", "1", dated)
    undated = builders.image("undated")
    store.push_image("lib/dated", "2", undated)
    built = dict(Manifest.objects.values_list("digest", "image_created"))
    assert built[dated.manifest.digest] == datetime(2020, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert built[undated.manifest.digest] is None


def test_a_big_config_is_not_read_at_push_time(store, monkeypatch):
    from registry_api.services import configblobs

    monkeypatch.setattr(configblobs, "CREATED_CONFIG_MAX_BYTES", 10)
    dated = builders.image("dated", created="2020-05-06T07:08:09Z")
    store.push_image("lib/dated", "1", dated)
    assert Manifest.objects.get(digest=dated.manifest.digest).image_created is None


def test_the_backfill_migration_reads_old_configs(store):
    import importlib

    from django.apps import apps

    dated = builders.image("dated", created="2019-01-02T03:04:05.999999999+02:00")
    store.push_image("lib/dated", "1", dated)
    Manifest.objects.update(image_created=None)  # as before the field existed
    importlib.import_module("registry_api.migrations.0012_backfill_image_created").backfill(apps, None)
    assert Manifest.objects.get(digest=dated.manifest.digest).image_created == datetime(
        2019, 1, 2, 1, 4, 5, 999999, tzinfo=timezone.utc)
