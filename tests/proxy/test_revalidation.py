"""Tags of a proxy cache: served within the TTL, revalidated with a HEAD after it, stale
while upstream is down."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from registry_api.models import Manifest, ProxyNamespace, Tag
from tests import builders
from tests.api.support import assert_error


def _expire(name: str = "3.20") -> None:
    Tag.objects.filter(name=name).update(upstream_checked_at=timezone.now() - timedelta(hours=2))


def test_within_the_ttl_upstream_is_not_asked(client, hub, alpine, upstream):
    client.get("/v2/hub/alpine/manifests/3.20")
    before = len(upstream.seen)
    moved = builders.image("alpine-new")
    upstream.add_image("library/alpine", "3.20", moved)
    assert client.get("/v2/hub/alpine/manifests/3.20").content == alpine.manifest.data
    assert len(upstream.seen) == before


def test_after_the_ttl_an_unchanged_tag_costs_one_head(client, hub, alpine, upstream):
    client.get("/v2/hub/alpine/manifests/3.20")
    _expire()
    gets = upstream.count("GET", "/manifests/")
    response = client.get("/v2/hub/alpine/manifests/3.20")
    assert response.status_code == 200 and response.content == alpine.manifest.data
    assert upstream.count("HEAD", "/manifests/3.20") == 1
    assert upstream.count("GET", "/manifests/") == gets
    tag = Tag.objects.get(name="3.20")
    assert timezone.now() - tag.upstream_checked_at < timedelta(seconds=5)  # freshness renewed
    assert ProxyNamespace.objects.get(name="hub").cache_hits == 1


def test_after_the_ttl_a_moved_tag_fetches_the_new_manifest(client, hub, alpine, upstream):
    client.get("/v2/hub/alpine/manifests/3.20")
    moved = builders.image("alpine-new")
    upstream.add_image("library/alpine", "3.20", moved)
    _expire()
    response = client.get("/v2/hub/alpine/manifests/3.20")
    assert response.content == moved.manifest.data
    assert Tag.objects.get(name="3.20").manifest.digest == moved.manifest.digest
    # The old manifest stays cached by digest, for whoever pinned it.
    assert client.get(f"/v2/hub/alpine/manifests/{alpine.manifest.digest}").status_code == 200


def test_a_ttl_of_zero_revalidates_every_pull(client, hub, alpine, upstream):
    ProxyNamespace.objects.filter(pk=hub.pk).update(manifest_ttl=0)
    for _ in range(3):
        client.get("/v2/hub/alpine/manifests/3.20")
    assert upstream.count("HEAD", "/manifests/3.20") == 2


def test_upstream_down_serves_the_cached_tag_stale_with_a_warning(client, hub, alpine, upstream, caplog):
    client.get("/v2/hub/alpine/manifests/3.20")
    _expire()
    upstream.down = True
    response = client.get("/v2/hub/alpine/manifests/3.20")
    assert response.status_code == 200 and response.content == alpine.manifest.data
    assert "serving stale" in caplog.text
    proxy = ProxyNamespace.objects.get(name="hub")
    assert proxy.cache_hits == 1 and "503" in proxy.last_error and proxy.last_error_at is not None


def test_upstream_unreachable_serves_stale_too(client, hub, alpine, upstream):
    client.get("/v2/hub/alpine/manifests/3.20")
    _expire()
    upstream.stop()
    assert client.get("/v2/hub/alpine/manifests/3.20").status_code == 200
    upstream.start()


def test_a_tag_deleted_upstream_is_unknown_after_the_ttl(client, hub, alpine, upstream):
    client.get("/v2/hub/alpine/manifests/3.20")
    del upstream.tags[("library/alpine", "3.20")]
    _expire()
    entry = assert_error(client.get("/v2/hub/alpine/manifests/3.20"), 404, "MANIFEST_UNKNOWN")
    assert "not found upstream" in entry["message"]
    assert Tag.objects.filter(name="3.20").exists()  # left for expiry or retention


def test_a_head_without_digest_falls_back_to_a_get(client, hub, alpine, upstream, monkeypatch):
    from registry_api.proxy import manifests

    client.get("/v2/hub/alpine/manifests/3.20")
    _expire()
    monkeypatch.setattr(manifests, "_head_digest", lambda route, tag: None)
    assert client.get("/v2/hub/alpine/manifests/3.20").content == alpine.manifest.data
    assert Manifest.objects.count() == 1
    assert ProxyNamespace.objects.get(name="hub").cache_misses == 1  # the first pull only


def test_a_head_request_on_an_uncached_tag_caches_it(client, hub, alpine):
    response = client.head("/v2/hub/alpine/manifests/3.20")
    assert response.status_code == 200 and response.content == b""
    assert response["Docker-Content-Digest"] == alpine.manifest.digest
    assert Tag.objects.filter(name="3.20").exists()


def test_a_get_records_the_pull_on_tag_and_manifest(client, hub, alpine):
    client.get("/v2/hub/alpine/manifests/3.20")
    tag = Tag.objects.select_related("manifest").get(name="3.20")
    assert tag.last_pulled_at is not None and tag.manifest.last_pulled_at is not None
