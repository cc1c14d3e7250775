"""Pulling through a proxy namespace: first pull fetches, the next is a hit; what upstream
sends is verified; the cache is real repository content."""
from __future__ import annotations

import json

from registry_api.models import Blob, ManifestReference, PendingBlobReference, ProxyNamespace, RepositoryBlob, Tag
from tests import builders
from tests.api.support import assert_error

from .conftest import body, hang_up, upstream_index


def _counts() -> tuple[int, int]:
    proxy = ProxyNamespace.objects.get(name="hub")
    return proxy.cache_hits, proxy.cache_misses


def test_first_pull_fetches_and_the_second_is_a_hit(client, hub, alpine, upstream):
    response = client.get("/v2/hub/library/alpine/manifests/3.20")
    assert response.status_code == 200
    assert response.content == alpine.manifest.data
    assert response["Docker-Content-Digest"] == alpine.manifest.digest
    assert response["Content-Type"] == builders.OCI_MANIFEST
    for blob in alpine.blobs:
        got = client.get(f"/v2/hub/library/alpine/blobs/{blob.digest}")
        assert got.status_code == 200 and body(got) == blob.data
    assert _counts() == (0, 4)  # the manifest and three blobs
    fetched = len(upstream.seen)

    assert client.get("/v2/hub/library/alpine/manifests/3.20").content == alpine.manifest.data
    for blob in alpine.blobs:
        assert body(client.get(f"/v2/hub/library/alpine/blobs/{blob.digest}")) == blob.data
    assert len(upstream.seen) == fetched
    assert _counts() == (4, 4)


def test_cached_content_is_an_ordinary_repository(client, hub, alpine):
    client.get("/v2/hub/alpine/manifests/3.20")  # the library/ default
    for blob in alpine.blobs:
        body(client.get(f"/v2/hub/alpine/blobs/{blob.digest}"))
    tag = Tag.objects.get(repository__name="hub/library/alpine", name="3.20")
    assert tag.manifest.digest == alpine.manifest.digest and tag.upstream_checked_at is not None
    references = set(ManifestReference.objects.filter(manifest=tag.manifest).values_list("blob__digest", flat=True))
    assert references == {b.digest for b in alpine.blobs}
    assert not PendingBlobReference.objects.exists()
    linked = set(RepositoryBlob.objects.filter(repository__name="hub/library/alpine").values_list("blob__digest", flat=True))
    assert linked == references
    catalog = client.get("/v2/_catalog").json()["repositories"]
    assert catalog == ["hub/library/alpine"]


def test_a_blob_is_referenced_once_it_arrives(client, hub, alpine):
    client.get("/v2/hub/alpine/manifests/3.20")
    pending = set(PendingBlobReference.objects.values_list("digest", flat=True))
    assert pending == {b.digest for b in alpine.blobs}
    body(client.get(f"/v2/hub/alpine/blobs/{alpine.config.digest}"))
    assert alpine.config.digest not in set(PendingBlobReference.objects.values_list("digest", flat=True))
    assert ManifestReference.objects.filter(blob__digest=alpine.config.digest).count() == 1


def test_pull_by_digest_of_an_index_and_its_children(client, hub, upstream):
    amd64, arm64, index = upstream_index(upstream, "multi", "1")

    assert client.get("/v2/hub/multi/manifests/1").content == index.data
    child = client.get(f"/v2/hub/multi/manifests/{arm64.manifest.digest}")
    assert child.status_code == 200 and child.content == arm64.manifest.data
    children = ManifestReference.objects.filter(manifest__digest=index.digest).values_list("child_digest", flat=True)
    assert set(children) == {amd64.manifest.digest, arm64.manifest.digest}


def test_a_manifest_by_digest_is_served_from_the_cache_without_asking_upstream(client, hub, alpine, upstream):
    ProxyNamespace.objects.filter(pk=hub.pk).update(manifest_ttl=0)
    digest = alpine.manifest.digest
    client.get(f"/v2/hub/alpine/manifests/{digest}")
    upstream.down = True
    before = len(upstream.seen)
    response = client.get(f"/v2/hub/alpine/manifests/{digest}")
    assert response.status_code == 200 and response.content == alpine.manifest.data
    assert len(upstream.seen) == before


def test_a_manifest_not_matching_its_digest_is_refused(client, hub, alpine, upstream):
    upstream.corrupt = True
    response = client.get(f"/v2/hub/alpine/manifests/{alpine.manifest.digest}")
    entry = assert_error(response, 404, "MANIFEST_UNKNOWN")
    assert "hashes to" in entry["message"]
    response = client.get("/v2/hub/alpine/manifests/3.20")  # Docker-Content-Digest names the true one
    assert_error(response, 404, "MANIFEST_UNKNOWN")
    assert not Tag.objects.exists()
    assert "hashes to" in ProxyNamespace.objects.get(name="hub").last_error


def test_a_manifest_over_the_size_limit_is_refused(client, hub, alpine, settings):
    settings.REGISTRY_MANIFEST_MAX_BYTES = 100
    entry = assert_error(client.get("/v2/hub/alpine/manifests/3.20"), 404, "MANIFEST_UNKNOWN")
    assert "limit" in entry["message"]


def test_what_is_not_a_manifest_is_refused(client, hub, upstream):
    config = builders.Blob(b'{"architecture": "amd64"}', builders.OCI_CONFIG)
    upstream.manifests[("library/odd", config.digest)] = (config.data, "application/octet-stream")
    upstream.tags[("library/odd", "1")] = config.digest
    entry = assert_error(client.get("/v2/hub/odd/manifests/1"), 404, "MANIFEST_UNKNOWN")
    assert "refused" in entry["message"]


def test_schema1_upstream_is_refused(client, hub, upstream):
    schema1 = builders.Blob(json.dumps({"schemaVersion": 1, "name": "x"}).encode(),
                            "application/vnd.docker.distribution.manifest.v1+prettyjws")
    upstream.add_manifest("library/old", "1", schema1)
    entry = assert_error(client.get("/v2/hub/old/manifests/1"), 404, "MANIFEST_UNKNOWN")
    assert "schema1" in entry["message"]


def test_not_found_upstream(client, hub, upstream):
    entry = assert_error(client.get("/v2/hub/nothing/manifests/1"), 404, "MANIFEST_UNKNOWN")
    assert "not found upstream" in entry["message"]
    digest = builders.sha256(b"nothing")
    assert_error(client.get(f"/v2/hub/nothing/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_unreachable_upstream_with_nothing_cached_is_a_clean_404(client, hub, upstream):
    upstream.stop()
    response = client.get("/v2/hub/alpine/manifests/3.20")
    entry = assert_error(response, 404, "MANIFEST_UNKNOWN")
    assert "is not cached and upstream" in entry["message"] and "unavailable" in entry["message"]
    upstream.start()  # the fixture stops it again


def test_a_corrupt_blob_breaks_the_stream_and_is_not_stored(client, hub, alpine, upstream):
    import pytest

    from registry_api.proxy.blobs import BlobStreamBroken

    client.get("/v2/hub/alpine/manifests/3.20")
    upstream.corrupt = True
    response = client.get(f"/v2/hub/alpine/blobs/{alpine.layers[0].digest}")
    assert response.status_code == 200 and response.streaming
    with pytest.raises(BlobStreamBroken):
        b"".join(response.streaming_content)
    hang_up(response)
    assert not Blob.objects.filter(digest=alpine.layers[0].digest).exists()
    upstream.corrupt = False
    assert body(client.get(f"/v2/hub/alpine/blobs/{alpine.layers[0].digest}")) == alpine.layers[0].data


def test_a_blob_of_another_size_than_its_manifest_says_is_refused(client, hub, upstream):
    image = builders.image("sized")
    upstream.add_image("library/sized", "1", image)
    client.get("/v2/hub/sized/manifests/1")
    upstream.blobs[image.layers[0].digest] = image.layers[0].data + b"x"
    entry = assert_error(client.get(f"/v2/hub/sized/blobs/{image.layers[0].digest}"), 404, "BLOB_UNKNOWN")
    assert "the manifest says" in entry["message"]


def test_blob_larger_than_the_limit_is_refused(client, hub, alpine, settings):
    settings.REGISTRY_PROXY_BLOB_MAX_BYTES = 10
    entry = assert_error(client.get(f"/v2/hub/alpine/blobs/{alpine.layers[0].digest}"), 404, "BLOB_UNKNOWN")
    assert "REGISTRY_PROXY_BLOB_MAX_BYTES" in entry["message"]


def test_head_of_an_uncached_blob_asks_upstream_and_fetches_nothing(client, hub, alpine, upstream):
    blob = alpine.layers[0]
    response = client.head(f"/v2/hub/alpine/blobs/{blob.digest}")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(blob.data)) and response["Docker-Content-Digest"] == blob.digest
    assert not Blob.objects.exists()
    assert upstream.count("HEAD", "/blobs/") == 1


def test_a_range_on_an_uncached_blob_is_answered_whole(client, hub, alpine):
    blob = alpine.layers[0]
    response = client.get(f"/v2/hub/alpine/blobs/{blob.digest}", HTTP_RANGE="bytes=0-9")
    assert response.status_code == 200 and body(response) == blob.data
    cached = client.get(f"/v2/hub/alpine/blobs/{blob.digest}", HTTP_RANGE="bytes=0-9")
    assert cached.status_code == 206 and body(cached) == blob.data[:10]


def test_a_blob_cached_for_one_repository_of_the_proxy_serves_the_others(client, hub, upstream, alpine):
    upstream.add_image("library/alpine-copy", "1", alpine)
    body(client.get(f"/v2/hub/alpine/blobs/{alpine.layers[0].digest}"))
    before = upstream.count("GET", "/blobs/")
    client.get("/v2/hub/alpine-copy/manifests/1")
    assert body(client.get(f"/v2/hub/alpine-copy/blobs/{alpine.layers[0].digest}")) == alpine.layers[0].data
    assert upstream.count("GET", "/blobs/") == before
    assert ManifestReference.objects.filter(manifest__repository__name="hub/library/alpine-copy",
                                            blob__digest=alpine.layers[0].digest).exists()


def test_a_blob_stored_for_a_hosted_repository_is_still_fetched_upstream(client, registry, hub, alpine, upstream):
    """A digest alone is no proof upstream holds the bytes: nothing hosted leaks through a proxy."""
    registry.push_blob("team/private", alpine.layers[0])
    body(client.get(f"/v2/hub/alpine/blobs/{alpine.layers[0].digest}"))
    assert upstream.count("GET", "/blobs/") == 1


def test_tags_list_merges_upstream_and_cache(client, hub, alpine, upstream):
    upstream.tags[("library/alpine", "3.19")] = alpine.manifest.digest
    client.get("/v2/hub/alpine/manifests/3.20")
    assert client.get("/v2/hub/alpine/tags/list").json() == {"name": "hub/alpine", "tags": ["3.19", "3.20"]}
    upstream.down = True
    assert client.get("/v2/hub/alpine/tags/list").json()["tags"] == ["3.20"]
    assert_error(client.get("/v2/hub/unknown/tags/list"), 404, "NAME_UNKNOWN")


def test_the_proxy_namespace_alone_names_nothing(client, hub):
    assert_error(client.get("/v2/hub/manifests/latest"), 404, "MANIFEST_UNKNOWN")


def test_the_proxy_namespace_alone_has_no_blobs(client, hub, upstream):
    assert_error(client.get(f"/v2/hub/blobs/{builders.sha256(b'x')}"), 404, "BLOB_UNKNOWN")
    assert not upstream.seen
