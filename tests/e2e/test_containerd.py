"""containerd's `ctr` against the registry: pull, push, --all-platforms, credentials.

ctr talks to the containerd that the private dockerd starts (tests/e2e/daemons.py). It
keeps manifest bytes as pushed, so what it pulls and pushes is compared byte for byte with
what tests/builders.py made. Images are unpacked into the `native` snapshotter: overlayfs
needs mount rights these sandboxes may lack (dockerd runs with vfs for the same reason).
"""
from __future__ import annotations

import re
import subprocess

import pytest

from tests import builders

from .daemons import Dockerd
from .support import COMMAND_TIMEOUT, blob_bytes, require_tool, skopeo_push

pytestmark = pytest.mark.e2e

NAMESPACE = "e2e"


def ctr(dockerd: Dockerd, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """One ctr command against the daemon's containerd; bytes out, for `content get`."""
    result = subprocess.run(
        [require_tool("ctr"), "--address", str(dockerd.containerd_socket), "--namespace", NAMESPACE, *args],
        capture_output=True, timeout=COMMAND_TIMEOUT,
    )
    if check:
        assert result.returncode == 0, f"ctr {' '.join(args)}:\n{result.stderr.decode(errors='replace')}"
    return result


def pull(dockerd: Dockerd, ref: str, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    return ctr(dockerd, "images", "pull", "--plain-http", "--snapshotter", "native", *options, ref, check=check)


def image_digest(dockerd: Dockerd, ref: str) -> str:
    """The digest containerd recorded for `ref` (`ctr images ls`: REF TYPE DIGEST …)."""
    for line in ctr(dockerd, "images", "ls").stdout.decode().splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == ref:
            return fields[2]
    raise AssertionError(f"{ref} is not in containerd's image store")


def content(dockerd: Dockerd, digest: str) -> bytes:
    return ctr(dockerd, "content", "get", digest).stdout


def test_pull_then_push_keeps_manifest_and_blob_bytes(dockerd, live_registry, tmp_path):
    img = builders.image("ctr-app", layer_count=2)
    source = f"{live_registry.host}/e2e/ctr-src:v1"
    skopeo_push(f"oci:{builders.image_layout(tmp_path / 'src', 'v1', img)}:v1", f"docker://{source}")

    pull(dockerd, source)
    assert image_digest(dockerd, source) == img.manifest.digest
    for digest, data in blob_bytes([*img.blobs, img.manifest]).items():
        assert content(dockerd, digest) == data, digest

    target = f"{live_registry.host}/e2e/ctr-dst:v2"
    ctr(dockerd, "images", "push", "--plain-http", target, source)
    served = live_registry.manifest("e2e/ctr-dst", "v2", accept=builders.OCI_MANIFEST)
    assert served.status == 200
    assert served.body == img.manifest.data
    assert served.headers["Docker-Content-Digest"] == img.manifest.digest
    for blob in img.blobs:
        assert live_registry.request("GET", f"/v2/e2e/ctr-dst/blobs/{blob.digest}").body == blob.data


def test_all_platforms_pulls_and_pushes_every_child_of_an_index(dockerd, live_registry, tmp_path):
    children = [builders.image("ctr-multi", architecture=arch) for arch in ("amd64", "arm64")]
    layout, idx = builders.index_layout(tmp_path / "src", "v1", children)
    source = f"{live_registry.host}/e2e/ctr-multi:v1"
    skopeo_push(f"oci:{layout}:v1", f"docker://{source}", "--all")

    pull(dockerd, source, "--all-platforms")
    assert image_digest(dockerd, source) == idx.digest
    # Both platforms came, the foreign one (arm64 on this machine) included.
    for digest, data in blob_bytes([idx, *(b for c in children for b in (*c.blobs, c.manifest))]).items():
        assert content(dockerd, digest) == data, digest

    target = f"{live_registry.host}/e2e/ctr-multi-copy:v1"
    ctr(dockerd, "images", "push", "--plain-http", target, source)
    assert live_registry.manifest("e2e/ctr-multi-copy", "v1", accept=builders.OCI_INDEX).body == idx.data
    for child in children:
        assert live_registry.manifest("e2e/ctr-multi-copy", child.manifest.digest).body == child.manifest.data
        for blob in child.blobs:
            response = live_registry.request("GET", f"/v2/e2e/ctr-multi-copy/blobs/{blob.digest}")
            assert response.status == 200 and response.body == blob.data


def test_credentials_against_the_secured_registry(dockerd, secured_registry, tmp_path):
    """ctr -u: it POSTs the OAuth2 password form to the token endpoint first (GET after a 404)."""
    img = builders.image("ctr-secured", layer_count=1)
    user, password = secured_registry.credentials
    source = f"{secured_registry.host}/team/ctr-src:v1"
    skopeo_push(f"oci:{builders.image_layout(tmp_path / 'src', 'v1', img)}:v1", f"docker://{source}",
                "--dest-creds", f"{user}:{password}")
    log_start = secured_registry.log.size()

    wrong = pull(dockerd, source, "-u", f"{user}:not-the-password", check=False)
    assert wrong.returncode != 0
    assert "401" in wrong.stderr.decode() or "unauthorized" in wrong.stderr.decode().lower()

    pull(dockerd, source, "-u", f"{user}:{password}")
    assert image_digest(dockerd, source) == img.manifest.digest
    target = f"{secured_registry.host}/team/ctr-dst:v1"
    ctr(dockerd, "images", "push", "--plain-http", "-u", f"{user}:{password}", target, source)
    served = secured_registry.manifest("team/ctr-dst", "v1", accept=builders.OCI_MANIFEST)
    assert served.status == 200 and served.body == img.manifest.data

    log = secured_registry.log.read(log_start)
    assert re.search(r'"POST /auth/token HTTP/1\.1" 200 ', log), "ctr did not get its token by POST"
