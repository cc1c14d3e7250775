"""podman against the registry: push, pull, multi-platform manifest lists, login.

podman keeps its images under a per-module directory (`--root`/`--runroot`, vfs storage,
cgroupfs, events to a file), so it touches nothing of the machine's and needs neither
systemd nor the rootless helpers (/work/shared/REAL-CLIENTS.md). Images enter it with
`podman load` of an archive from tests/builders.py, or by pulling what skopeo pushed.
"""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import builders
from tests.builders import sha256

from .support import COMMAND_TIMEOUT, require_tool, skopeo_push

pytestmark = pytest.mark.e2e


@dataclass
class Podman:
    root: Path
    binary: str

    def command(self, *args: str | Path) -> list[str]:
        return [
            self.binary, "--root", str(self.root / "root"), "--runroot", str(self.root / "run"),
            # libpod's state (its `alive` file) too, or it lives in the shared /run/libpod,
            # where two podman processes starting at once raced to create it.
            "--tmpdir", str(self.root / "tmp"),
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
            *map(str, args),
        ]

    def run(self, *args: str | Path, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        env = {"HOME": str(self.root), "XDG_RUNTIME_DIR": str(self.root / "xdg"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        result = subprocess.run(
            self.command(*args), input=input, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, env=env,
        )
        if check:
            assert result.returncode == 0, f"podman {' '.join(map(str, args))}:\n{result.stdout}\n{result.stderr}"
        return result

    def __call__(self, *args: str | Path) -> str:
        return self.run(*args).stdout


@pytest.fixture(scope="module")
def podman() -> Podman:
    binary = require_tool("podman")
    # Short, under /tmp: podman keeps sockets and lock files in its runroot.
    root = Path(tempfile.mkdtemp(prefix="p", dir="/tmp"))
    (root / "xdg").mkdir(mode=0o700)
    try:
        yield Podman(root, binary)
    finally:
        subprocess.run([*Podman(root, binary).command("system", "reset", "--force")], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _served_manifest(registry, name: str, reference: str) -> tuple[bytes, dict]:
    response = registry.manifest(name, reference, accept=", ".join(
        [builders.OCI_MANIFEST, builders.OCI_INDEX, builders.DOCKER_MANIFEST, builders.DOCKER_LIST]))
    assert response.status == 200, response.body
    assert response.headers["Docker-Content-Digest"] == sha256(response.body)
    return response.body, json.loads(response.body)


def test_load_push_then_pull_round_trip(podman, live_registry, tmp_path):
    img = builders.image("podman-app", layer_count=2, docker=True)
    archive = builders.docker_archive(tmp_path / "image.tar", img, ["localhost/e2e/podman-app:latest"])
    podman("load", "-i", archive)
    ref = f"{live_registry.host}/e2e/podman-app:v1"
    digest_file = tmp_path / "digest"
    podman("push", "--tls-verify=false", "--digestfile", digest_file, "localhost/e2e/podman-app:latest", f"docker://{ref}")

    raw, manifest = _served_manifest(live_registry, "e2e/podman-app", "v1")
    assert sha256(raw) == digest_file.read_text().strip()
    assert manifest["config"]["digest"] == img.config.digest  # the image ID survives the push
    # podman compressed the layers itself: same content, its own gzip stream.
    for served, original in zip(manifest["layers"], img.layers, strict=True):
        blob = live_registry.request("GET", f"/v2/e2e/podman-app/blobs/{served['digest']}")
        assert blob.status == 200 and sha256(blob.body) == served["digest"]
        assert gzip.decompress(blob.body) == gzip.decompress(original.data)

    podman("rmi", "--all", "--force")
    podman("pull", "--tls-verify=false", ref)
    inspected = json.loads(podman("image", "inspect", ref))[0]
    assert inspected["Id"] == img.config.digest.split(":", 1)[1]
    assert inspected["Digest"] == sha256(raw)


def test_pull_keeps_the_digest_and_push_reuses_the_layers(podman, live_registry, tmp_path):
    img = builders.image("podman-kept", layer_count=2)
    source = f"{live_registry.host}/e2e/podman-src:v1"
    skopeo_push(f"oci:{builders.image_layout(tmp_path / 'src', 'v1', img)}:v1", f"docker://{source}")
    podman("pull", "--tls-verify=false", source)
    assert json.loads(podman("image", "inspect", source))[0]["Digest"] == img.manifest.digest

    # From its own storage podman writes a new manifest and config (it does not keep the
    # bytes it pulled), but it knows where the compressed layers came from and mounts them.
    target = f"{live_registry.host}/e2e/podman-dst:v1"
    log_start = live_registry.log.size()
    digest_file = tmp_path / "digest"
    podman("push", "--tls-verify=false", "--digestfile", digest_file, source, f"docker://{target}")
    raw, manifest = _served_manifest(live_registry, "e2e/podman-dst", "v1")
    assert sha256(raw) == digest_file.read_text().strip()
    assert [layer["digest"] for layer in manifest["layers"]] == [b.digest for b in img.layers]
    log = live_registry.log.read(log_start)
    for layer in img.layers:
        assert f"mount blob repository=e2e/podman-dst from=e2e/podman-src digest={layer.digest}" in log
        assert live_registry.request("GET", f"/v2/e2e/podman-dst/blobs/{layer.digest}").body == layer.data


def test_manifest_list_of_two_platforms_is_pushed_with_all_its_images(podman, live_registry, tmp_path):
    children = {arch: builders.image("podman-multi", architecture=arch) for arch in ("amd64", "arm64")}
    for arch, img in children.items():
        layout = builders.image_layout(tmp_path / arch, "v1", img)
        skopeo_push(f"oci:{layout}:v1", f"docker://{live_registry.host}/e2e/podman-parts:{arch}")
    podman("manifest", "create", "localhost/e2e/podman-list:v1")
    for arch in children:
        podman("manifest", "add", "--tls-verify=false", "localhost/e2e/podman-list:v1",
               f"docker://{live_registry.host}/e2e/podman-parts:{arch}")

    target = f"{live_registry.host}/e2e/podman-list:v1"
    podman("manifest", "push", "--all", "--tls-verify=false", "localhost/e2e/podman-list:v1", f"docker://{target}")

    raw, index = _served_manifest(live_registry, "e2e/podman-list", "v1")
    assert index["mediaType"] in (builders.OCI_INDEX, builders.DOCKER_LIST)
    listed = {m["platform"]["architecture"]: m["digest"] for m in index["manifests"]}
    assert listed == {arch: img.manifest.digest for arch, img in children.items()}
    # --all: every child and its blobs were pushed into the list's repository too.
    for img in children.values():
        assert _served_manifest(live_registry, "e2e/podman-list", img.manifest.digest)[0] == img.manifest.data
        for blob in img.blobs:
            assert live_registry.request("GET", f"/v2/e2e/podman-list/blobs/{blob.digest}").body == blob.data
    podman("pull", "--tls-verify=false", "--arch", "arm64", target)


def test_login_with_access_control(podman, secured_registry, tmp_path):
    user, password = secured_registry.credentials
    authfile = tmp_path / "auth.json"
    login = ["login", "--tls-verify=false", "--authfile", authfile, "-u", user, "--password-stdin", secured_registry.host]
    wrong = podman.run(*login, input="not-the-password", check=False)
    assert wrong.returncode != 0
    assert "unauthorized" in wrong.stderr.lower() or "invalid username/password" in wrong.stderr.lower()
    assert not authfile.exists() or secured_registry.host not in json.loads(authfile.read_text()).get("auths", {})

    right = podman.run(*login, input=password)
    assert "Login Succeeded" in right.stdout
    assert secured_registry.host in json.loads(authfile.read_text())["auths"]

    # The stored credentials push and pull.
    img = builders.image("podman-secured", layer_count=1)
    archive = builders.docker_archive(tmp_path / "image.tar", img, ["localhost/e2e/podman-secured:latest"])
    podman("load", "-i", archive)
    ref = f"{secured_registry.host}/team/podman-secured:v1"
    podman("push", "--tls-verify=false", "--authfile", authfile, "localhost/e2e/podman-secured:latest", f"docker://{ref}")
    podman("rmi", "--all", "--force")
    podman("pull", "--tls-verify=false", "--authfile", authfile, ref)
    assert json.loads(podman("image", "inspect", ref))[0]["Id"] == img.config.digest.split(":", 1)[1]
    anonymous = podman.run("pull", "--tls-verify=false", "--authfile", tmp_path / "none.json", ref, check=False)
    assert anonymous.returncode != 0
