"""Pull-through caching over real HTTP: skopeo against the registry (gunicorn, access
control on) whose proxy namespace `hub` fronts a second instance of this registry with
token auth on (tests/e2e/conftest.py: upstream_registry, proxy_registry)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
import time

import pytest

from tests import builders

from .conftest import configure_proxy
from .support import require_tool, send, skopeo, skopeo_push, skopeo_raw

pytestmark = pytest.mark.e2e


def _creds(registry) -> str:
    return ":".join(registry.credentials)


def publish(upstream, tmp_path, name: str, tag: str, image: builders.Image) -> None:
    """Push an image to the upstream as its owner would."""
    layout = builders.image_layout(tmp_path / f"src-{image.manifest.digest[7:19]}", tag, image)
    skopeo_push(f"oci:{layout}:{tag}", f"docker://{upstream.host}/{name}:{tag}", "--dest-creds", _creds(upstream))


def requests_in(log_text: str, method: str, path: str, status: int = 200) -> int:
    """How many `method path` requests gunicorn's access log shows answered with `status`."""
    return len(re.findall(rf'"{method} {re.escape(path)}(?:\?[^ ]*)? HTTP/1\.[01]" {status} ', log_text))


def pull(registry, reference: str, destination) -> None:
    """skopeo copy from the registry into an OCI layout, anonymously (hub is public)."""
    skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{registry.host}/{reference}", f"oci:{destination}:x")


def layout_digests(directory) -> set[str]:
    return {f"sha256:{p.name}" for p in (directory / "blobs" / "sha256").iterdir()}


def test_pull_through_then_served_with_the_upstream_stopped(proxy_registry, start_registry, tmp_path):
    image = builders.image("edge-app", layer_count=2)
    with start_registry("edge-upstream") as upstream:
        upstream.manage("shell", "-c", "from registry_api.models import Namespace\n"
                                       "Namespace.objects.create(name='library', public=True)")
        publish(upstream, tmp_path, "library/app", "v1", image)
        configure_proxy(proxy_registry, "edge", upstream)
        pull(proxy_registry, "edge/app:v1", tmp_path / "first")
        log = upstream.log.read()
        assert requests_in(log, "GET", f"/v2/library/app/manifests/v1") == 1
        for blob in image.blobs:
            assert requests_in(log, "GET", f"/v2/library/app/blobs/{blob.digest}") == 1
        assert requests_in(log, "GET", "/auth/token") >= 1  # the Bearer challenge was followed
    # Upstream stopped: the second pull is served from the cache alone.
    start = proxy_registry.log.size()
    pull(proxy_registry, "edge/app:v1", tmp_path / "second")
    assert layout_digests(tmp_path / "second") == {b.digest for b in image.blobs} | {image.manifest.digest}
    assert skopeo_raw(f"docker://{proxy_registry.host}/edge/app:v1") == image.manifest.data
    assert "proxy fetching" not in proxy_registry.log.read(start)
    counters = proxy_registry.manage("shell", "-c", (
        "from registry_api.models import ProxyNamespace as P; p = P.objects.get(name='edge');"
        "print(p.cache_hits, p.cache_misses)")).strip().splitlines()[-1].split()
    assert int(counters[1]) == 1 + len(image.blobs) and int(counters[0]) >= 1 + len(image.blobs)


TTL = 8  # seconds; long enough that a push upstream fits inside it even on a busy machine


def test_tags_are_revalidated_after_the_ttl(proxy_registry, upstream_registry, tmp_path):
    configure_proxy(proxy_registry, "short", upstream_registry, manifest_ttl=TTL)
    first, second, same = builders.image("ttl-one"), builders.image("ttl-two"), builders.image("ttl-same")
    publish(upstream_registry, tmp_path, "library/ttl", "v1", first)
    publish(upstream_registry, tmp_path, "library/ttl", "same", same)
    moving, steady = (f"docker://{proxy_registry.host}/short/ttl:{tag}" for tag in ("v1", "same"))
    cached_at = time.monotonic()
    assert skopeo_raw(moving) == first.manifest.data
    assert skopeo_raw(steady) == same.manifest.data
    # The later of the two was cached by now: on a busy machine, a second or more after the first.
    both_cached_by = time.monotonic()

    publish(upstream_registry, tmp_path, "library/ttl", "v1", second)  # the tag moves upstream
    assert time.monotonic() - cached_at < TTL
    assert skopeo_raw(moving) == first.manifest.data  # within the TTL: the cached manifest

    time.sleep(max(0.0, both_cached_by + TTL + 0.5 - time.monotonic()))
    start = upstream_registry.log.size()
    assert skopeo_raw(steady) == same.manifest.data
    assert skopeo_raw(moving) == second.manifest.data
    log = upstream_registry.log.read(start)
    # Unchanged: one HEAD and no GET. Moved: the HEAD, then a GET of the new manifest.
    assert requests_in(log, "HEAD", "/v2/library/ttl/manifests/same") == 1
    assert requests_in(log, "GET", "/v2/library/ttl/manifests/same") == 0
    assert requests_in(log, "HEAD", "/v2/library/ttl/manifests/v1") == 1
    assert requests_in(log, "GET", "/v2/library/ttl/manifests/v1") == 1
    pull(proxy_registry, "short/ttl:v1", tmp_path / "moved")
    assert layout_digests(tmp_path / "moved") >= {b.digest for b in second.blobs}


def _get_blob(registry, path: str, results: list, barrier: threading.Barrier) -> None:
    conn = registry.connection()
    barrier.wait()
    try:
        response = send(conn, "GET", path)
        results.append((response.status, hashlib.sha256(response.body).hexdigest(), len(response.body)))
    finally:
        conn.close()


def test_concurrent_pulls_of_one_blob_fetch_it_once(proxy_registry, upstream_registry, tmp_path):
    data = os.urandom(48 * 1024 * 1024)
    layer = builders.Blob(data, builders.OCI_LAYER)
    config = builders.Blob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                                       "diff_ids": []}}).encode(), builders.OCI_CONFIG)
    document = {"schemaVersion": 2, "mediaType": builders.OCI_MANIFEST, "config": config.descriptor(),
                "layers": [layer.descriptor()]}
    image = builders.Image(config, [layer], builders.Blob(json.dumps(document).encode(), builders.OCI_MANIFEST))
    # Over the API: skopeo would compress a layer that is not gzip, changing its digest.
    for blob in image.blobs:
        upstream_registry.push_blob("library/big", blob.data)
    put = upstream_registry.request("PUT", "/v2/library/big/manifests/1", image.manifest.data,
                                    {"Content-Type": builders.OCI_MANIFEST})
    assert put.status == 201, put.body
    assert skopeo_raw(f"docker://{proxy_registry.host}/hub/big:1") == image.manifest.data
    start, proxy_start = upstream_registry.log.size(), proxy_registry.log.size()

    pullers = 6
    results: list = []
    barrier = threading.Barrier(pullers)
    threads = [threading.Thread(target=_get_blob, args=(proxy_registry, f"/v2/hub/big/blobs/{layer.digest}",
                                                        results, barrier)) for _ in range(pullers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == [(200, layer.digest.split(":")[1], len(data))] * pullers
    assert requests_in(upstream_registry.log.read(start), "GET", f"/v2/library/big/blobs/{layer.digest}") == 1
    proxy_log = proxy_registry.log.read(proxy_start)
    assert proxy_log.count(f"proxy fetching blob repository=hub/library/big digest={layer.digest}") == 1
    # The others followed that fetch (or, arriving after it, read the stored blob).
    assert f"proxy following the fetch of {layer.digest}" in proxy_log


def _group_all(registry) -> None:
    """Group `all` = hosted `team`, then proxy `hub`; public."""
    registry.manage("shell", "-c", (
        "from registry_api.models import GroupMember, GroupNamespace, Namespace\n"
        "g, _ = GroupNamespace.objects.get_or_create(name='all')\n"
        "GroupMember.objects.get_or_create(group=g, namespace='team', defaults={'position': 0})\n"
        "GroupMember.objects.get_or_create(group=g, namespace='hub', defaults={'position': 1})\n"
        "Namespace.objects.update_or_create(name='all', defaults={'public': True})\n"))


def test_a_group_resolves_hosted_then_proxy(proxy_registry, upstream_registry, tmp_path):
    ours, theirs, only_upstream = builders.image("grp-ours"), builders.image("grp-theirs"), builders.image("grp-up")
    publish(upstream_registry, tmp_path, "library/shared", "v1", theirs)
    publish(upstream_registry, tmp_path, "library/onlyup", "v1", only_upstream)
    layout = builders.image_layout(tmp_path / "ours", "v1", ours)
    skopeo_push(f"oci:{layout}:v1", f"docker://{proxy_registry.host}/team/shared:v1", "--dest-creds",
                _creds(proxy_registry))
    _group_all(proxy_registry)

    assert skopeo_raw(f"docker://{proxy_registry.host}/all/shared:v1") == ours.manifest.data
    assert skopeo_raw(f"docker://{proxy_registry.host}/all/onlyup:v1") == only_upstream.manifest.data
    pull(proxy_registry, "all/onlyup:v1", tmp_path / "through-group")
    assert layout_digests(tmp_path / "through-group") >= {b.digest for b in only_upstream.blobs}
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{proxy_registry.host}/all/shared"))
    assert tags["Tags"] == ["v1"]


@pytest.mark.parametrize("name", ["hub/library/pushed", "library/pushed", "all/pushed"])
def test_a_push_into_a_proxy_or_group_is_denied(proxy_registry, tmp_path, name):
    _group_all(proxy_registry)
    layout = builders.image_layout(tmp_path / "src", "v1", builders.image("denied"))
    result = subprocess.run(
        [require_tool("skopeo"), "copy", "--dest-tls-verify=false", "--dest-creds", _creds(proxy_registry),
         f"oci:{layout}:v1", f"docker://{proxy_registry.host}/{name}:v1"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "denied" in result.stderr.lower() and "read-only" in result.stderr, result.stderr
