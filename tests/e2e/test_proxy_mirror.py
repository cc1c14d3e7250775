"""The transparent mirror with real engines: dockerd started with `--registry-mirror`
pointing at the registry pulls `library/<name>:<tag>` by its short name, served through
the proxy `hub` from the second registry standing in for Docker Hub; containerd's `ctr`
does the same through a hosts.toml mirror, which adds `?ns=docker.io`. Other namespaces
on the same server stay hosted and pushable."""
from __future__ import annotations

import subprocess

import pytest

from tests import builders

from .daemons import running_dockerd
from .support import require_tool, run

pytestmark = pytest.mark.e2e


def publish_exact(upstream, name: str, tag: str, image: builders.Image) -> None:
    """Push over the API, so the upstream holds exactly these bytes."""
    for blob in image.blobs:
        upstream.push_blob(name, blob.data)
    response = upstream.request("PUT", f"/v2/{name}/manifests/{tag}", image.manifest.data,
                                {"Content-Type": image.manifest.media_type})
    assert response.status == 201, response.body


@pytest.fixture(scope="module")
def mirror_dockerd(proxy_registry):
    """dockerd whose registry-mirrors is the registry under test (plain http on loopback:
    dockerd treats 127.0.0.0/8 as insecure, so no --insecure-registry is needed)."""
    with running_dockerd("--registry-mirror", proxy_registry.base_url) as daemon:
        yield daemon


def test_docker_pulls_a_short_name_through_the_mirror(mirror_dockerd, proxy_registry, upstream_registry):
    image = builders.image("e2e-mirror", layer_count=2, docker=True)
    publish_exact(upstream_registry, "library/e2emirror", "1.0", image)
    start, upstream_start = proxy_registry.log.size(), upstream_registry.log.size()

    output = mirror_dockerd("pull", "e2emirror:1.0")

    assert f"Digest: {image.manifest.digest}" in output
    assert "docker.io/library/e2emirror:1.0" in output
    inspected = mirror_dockerd.inspect("e2emirror:1.0")
    assert inspected["Id"] == image.config.digest
    assert inspected["RepoDigests"] == [f"e2emirror@{image.manifest.digest}"]
    log = proxy_registry.log.read(start)
    # The daemon resolves the tag with a HEAD, then GETs the manifest by digest.
    assert '"HEAD /v2/library/e2emirror/manifests/1.0 HTTP/1.1" 200' in log
    assert f'"GET /v2/library/e2emirror/manifests/{image.manifest.digest} HTTP/1.1" 200' in log
    assert "proxy cached manifest repository=hub/library/e2emirror reference=1.0" in log
    for layer in image.layers:
        assert f'"GET /v2/library/e2emirror/blobs/{layer.digest} HTTP/1.1" 200' in log
    assert "/v2/library/e2emirror/manifests/1.0" in upstream_registry.log.read(upstream_start)


def test_hosted_namespaces_on_the_mirror_stay_pushable(mirror_dockerd, proxy_registry, upstream_registry):
    image = builders.image("e2e-hosted", layer_count=1, docker=True)
    publish_exact(upstream_registry, "library/e2ehosted", "1", image)
    mirror_dockerd("pull", "e2ehosted:1")
    user, password = proxy_registry.credentials
    login = subprocess.run(["docker", "login", proxy_registry.host, "-u", user, "--password-stdin"],
                           input=password, env=mirror_dockerd.env, capture_output=True, text=True, timeout=60)
    assert login.returncode == 0, login.stderr
    target = f"{proxy_registry.host}/team/from-mirror:1"
    mirror_dockerd("tag", "e2ehosted:1", target)
    assert "digest: sha256:" in mirror_dockerd("push", target)
    served = proxy_registry.manifest("team/from-mirror", "1", accept=builders.DOCKER_MANIFEST)
    assert served.status == 200
    # Pushing into the mirrored namespace itself is refused.
    mirror_dockerd("tag", "e2ehosted:1", f"{proxy_registry.host}/library/e2ehosted:1")
    denied = subprocess.run(["docker", "push", f"{proxy_registry.host}/library/e2ehosted:1"], env=mirror_dockerd.env,
                            capture_output=True, text=True, timeout=120)
    assert denied.returncode != 0 and "denied" in (denied.stderr + denied.stdout).lower()


def test_ctr_pulls_through_a_hosts_toml_mirror_with_ns(mirror_dockerd, proxy_registry, upstream_registry, tmp_path):
    ctr = require_tool("ctr")
    image = builders.image("e2e-ctr", layer_count=2)
    publish_exact(upstream_registry, "library/e2ectr", "2.0", image)
    hosts = tmp_path / "hosts" / "docker.io"
    hosts.mkdir(parents=True)
    (hosts / "hosts.toml").write_text(
        'server = "https://registry-1.docker.io"\n\n'
        f'[host."{proxy_registry.base_url}"]\n  capabilities = ["pull", "resolve"]\n'
    )
    start = proxy_registry.log.size()

    run([ctr, "--address", mirror_dockerd.containerd_socket, "-n", "proxy-e2e", "images", "pull", "--plain-http",
         "--hosts-dir", tmp_path / "hosts", "docker.io/library/e2ectr:2.0"])

    listed = run([ctr, "--address", mirror_dockerd.containerd_socket, "-n", "proxy-e2e", "images", "ls"])
    assert "docker.io/library/e2ectr:2.0" in listed and image.manifest.digest in listed
    log = proxy_registry.log.read(start)
    assert "/v2/library/e2ectr/manifests/2.0?ns=docker.io" in log
    for layer in image.layers:
        assert f"/v2/library/e2ectr/blobs/{layer.digest}?ns=docker.io HTTP/1.1\" 200" in log
    echoed = proxy_registry.request("HEAD", "/v2/library/e2ectr/manifests/2.0?ns=docker.io")
    assert echoed.status == 200 and echoed.headers["OCI-Namespace"] == "docker.io"
