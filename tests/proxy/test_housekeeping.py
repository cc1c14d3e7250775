"""Proxy-cached content under housekeeping: expiry of what nobody pulled, then garbage
collection and retention, as for everything else; fsck sees it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from registry_api.models import Blob, Manifest, Namespace, ProxyNamespace, RetentionPolicy, Tag
from registry_api.proxy.expiry import proxy_expire
from registry_api.services.fsck import fsck_run
from registry_api.services.gc import gc_run
from registry_api.services.retention import retention_apply
from tests import builders

from .conftest import body, upstream_index

OLD = timezone.now() - timedelta(days=40)


def _pull(client, name: str, tag: str, image) -> None:
    assert client.get(f"/v2/hub/{name}/manifests/{tag}").status_code == 200
    for blob in image.blobs:
        body(client.get(f"/v2/hub/{name}/blobs/{blob.digest}"))


def _age(manifest_digest: str) -> None:
    """As if cached and last pulled 40 days ago."""
    Tag.objects.filter(manifest__digest=manifest_digest).update(updated_at=OLD, last_pulled_at=OLD)
    Manifest.objects.filter(digest=manifest_digest).update(created_at=OLD, last_pulled_at=OLD)


@pytest.fixture
def cached(client, hub, upstream, alpine):
    busybox = builders.image("busybox")
    upstream.add_image("library/busybox", "1", busybox)
    _pull(client, "alpine", "3.20", alpine)
    _pull(client, "busybox", "1", busybox)
    ProxyNamespace.objects.filter(pk=hub.pk).update(expire_after_days=30)
    return alpine, busybox


def test_what_nobody_pulled_expires_then_gc_frees_its_blobs(client, cached, upstream):
    alpine, busybox = cached
    _age(busybox.manifest.digest)
    report = proxy_expire()
    assert report.tags == ["hub/library/busybox:1"]
    assert report.manifests == [f"hub/library/busybox@{busybox.manifest.digest}"]
    assert Manifest.objects.filter(digest=alpine.manifest.digest).exists()
    gc = gc_run(grace_period=timedelta(0))
    assert {g.digest for g in gc.plan.blobs} == {b.digest for b in busybox.blobs}
    assert set(Blob.objects.values_list("digest", flat=True)) == {b.digest for b in alpine.blobs}
    assert fsck_run().problems == []
    upstream.seen.clear()
    _pull(client, "busybox", "1", busybox)  # fetched again
    assert upstream.count("GET", "/blobs/") == len(busybox.blobs)


def test_recent_pulls_keep_content(client, cached):
    alpine, _ = cached
    _age(alpine.manifest.digest)
    client.get("/v2/hub/alpine/manifests/3.20")  # pulled today: the pull is recorded
    assert proxy_expire().tags == []


def test_a_manifest_pulled_by_digest_stays_while_pulled(client, cached):
    alpine, _ = cached
    Tag.objects.filter(name="3.20").delete()
    Manifest.objects.filter(digest=alpine.manifest.digest).update(created_at=OLD)
    client.get(f"/v2/hub/alpine/manifests/{alpine.manifest.digest}")
    assert proxy_expire().manifests == []
    Manifest.objects.filter(digest=alpine.manifest.digest).update(last_pulled_at=OLD)
    assert proxy_expire().manifests == [f"hub/library/alpine@{alpine.manifest.digest}"]


def test_children_of_a_kept_index_stay(client, hub, upstream):
    amd64, _, index = upstream_index(upstream, "m", "1")
    client.get("/v2/hub/m/manifests/1")
    client.get(f"/v2/hub/m/manifests/{amd64.manifest.digest}")
    Manifest.objects.exclude(digest=index.digest).update(created_at=OLD, last_pulled_at=OLD)
    ProxyNamespace.objects.filter(pk=hub.pk).update(expire_after_days=30)
    assert proxy_expire().manifests == []


def test_dry_run_and_the_command(client, cached, capsys):
    _, busybox = cached
    _age(busybox.manifest.digest)
    call_command("proxy_expire", "--dry-run")
    out = capsys.readouterr().out
    assert "would delete tag hub/library/busybox:1" in out and "1 tag(s), 1 manifest(s)" in out
    assert Tag.objects.filter(name="1").exists()
    call_command("proxy_expire")
    assert not Tag.objects.filter(name="1").exists()


def test_without_expiry_nothing_goes(client, cached):
    ProxyNamespace.objects.update(expire_after_days=None)
    _age(cached[1].manifest.digest)
    assert proxy_expire().tags == []


def test_retention_policies_apply_to_cached_tags(client, hub, upstream, alpine):
    for tag in ("3.18", "3.19"):
        upstream.tags[("library/alpine", tag)] = alpine.manifest.digest
    for tag in ("3.18", "3.19", "3.20"):
        client.get(f"/v2/hub/alpine/manifests/{tag}")
    Tag.objects.filter(name="3.18").update(updated_at=OLD)
    RetentionPolicy.objects.create(namespace=Namespace.objects.create(name="hub"), keep_last=2)
    assert [d.tag for d in retention_apply()] == ["3.18"]


def test_gc_keeps_cached_blobs_their_manifests_reference(client, cached):
    assert gc_run(grace_period=timedelta(0)).plan.blobs == []


def test_the_housekeeping_pass_expires_proxy_caches_before_collecting(client, cached):
    """What the timer and the compose service run: expiry, then gc, in one pass."""
    from registry_api.services.housekeeping import housekeeping_run

    alpine, busybox = cached
    _age(busybox.manifest.digest)
    report = housekeeping_run()
    assert report.expiry.tags == ["hub/library/busybox:1"]
    assert not Manifest.objects.filter(digest=busybox.manifest.digest).exists()
    assert Manifest.objects.filter(digest=alpine.manifest.digest).exists()
