"""The docker CLI and engine against the registry as installed (access control on): login, push, pull, --platform.

A private dockerd runs per module (per xdist worker) with its own data and exec roots, vfs
storage and no networking of its own, as /work/shared/REAL-CLIENTS.md describes. It
treats 127.0.0.0/8 registries as plain-HTTP ones by default. Images enter it with
`docker load` of an archive built by tests/builders.py, so nothing is fetched from outside.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import builders
from tests.builders import sha256

from .support import ServerLog, require_tool, run, skopeo_push

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT = 60


@dataclass
class Dockerd:
    root: Path
    env: dict[str, str]
    log: ServerLog

    def __call__(self, *args: str | Path) -> str:
        return run(["docker", *args], env=self.env)

    def inspect(self, image: str) -> dict:
        return json.loads(self("image", "inspect", image))[0]

    def has_image(self, image: str) -> bool:
        result = subprocess.run(["docker", "image", "inspect", image], env=self.env, capture_output=True, timeout=60)
        return result.returncode == 0


def _stop(proc: subprocess.Popen, root: Path) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # dockerd stops the containerd it started, then exits
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        # A killed dockerd leaves its own containerd behind; it wrote that child's pid here.
        pid_file = root / "exec" / "containerd" / "containerd.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass


@pytest.fixture(scope="module")
def dockerd() -> Dockerd:
    require_tool("docker")
    binary = require_tool("dockerd")
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root; run the e2e tests as root")
    # Unix socket paths are limited to 108 bytes: a short directory right under /tmp.
    root = Path(tempfile.mkdtemp(prefix="d", dir="/tmp"))
    socket_path = root / "docker.sock"
    (root / "daemon.json").write_text("{}")  # not the machine's /etc/docker/daemon.json
    log = ServerLog(root / "dockerd.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=f"unix://{socket_path}", DOCKER_CONFIG=str(root / "cfg"))
    daemon = Dockerd(root, env, log)
    with log.path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                binary, "--config-file", root / "daemon.json",
                "--data-root", root / "data", "--exec-root", root / "exec",
                "-H", f"unix://{socket_path}", "--pidfile", root / "docker.pid",
                "--storage-driver", "vfs", "--iptables=false", "--bridge=none",
            ],
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"dockerd exited with {proc.returncode}:\n{log.read()}")
            if socket_path.exists() and subprocess.run(
                ["docker", "version"], env=env, capture_output=True, timeout=30
            ).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not answer within {STARTUP_TIMEOUT}s:\n{log.read()}")
            time.sleep(0.2)
        yield daemon
    finally:
        _stop(proc, root)
        _unmount_below(root)
        shutil.rmtree(root, ignore_errors=True)


def _unmount_below(root: Path) -> None:
    """dockerd leaves its bind mount of the host network namespace (exec/netns/default,
    made once a container ran with --network host); rmtree cannot remove a mount point."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{root}/")]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", point], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def registry(dockerd, secured_registry):
    """The registry as installed (access control on), with this daemon logged in as admin."""
    user, password = secured_registry.credentials
    output = subprocess.run(
        ["docker", "login", secured_registry.host, "-u", user, "--password-stdin"],
        input=password, env=dockerd.env, capture_output=True, text=True, timeout=60,
    )
    assert output.returncode == 0, output.stderr
    return secured_registry


def _load(dockerd: Dockerd, tmp_path: Path, img: builders.Image, tag: str) -> str:
    """`docker load` the image under `tag`; returns its ID (the config digest)."""
    archive = builders.docker_archive(tmp_path / "image.tar", img, [tag])
    assert f"Loaded image: {tag}" in dockerd("load", "-i", archive)
    image_id = dockerd.inspect(tag)["Id"]
    assert image_id == img.config.digest
    return image_id


def _pushed_digest(output: str) -> str:
    match = re.search(r"digest: (sha256:[0-9a-f]{64}) size: \d+", output)
    assert match, output
    return match.group(1)


def test_push_then_pull_round_trip(dockerd, registry, tmp_path):
    img = builders.image("docker-app", layer_count=2, docker=True)
    image_id = _load(dockerd, tmp_path, img, "e2e/docker-app:latest")
    ref = f"{registry.host}/team/app:v1"
    dockerd("tag", "e2e/docker-app:latest", ref)

    digest = _pushed_digest(dockerd("push", ref))
    served = registry.manifest("team/app", "v1", accept=builders.DOCKER_MANIFEST)
    assert served.status == 200
    assert served.headers["Docker-Content-Digest"] == digest == sha256(served.body)
    manifest = json.loads(served.body)
    assert manifest["mediaType"] == builders.DOCKER_MANIFEST
    assert manifest["config"]["digest"] == image_id
    for layer in manifest["layers"]:
        blob = registry.request("GET", f"/v2/team/app/blobs/{layer['digest']}")
        assert blob.status == 200 and sha256(blob.body) == layer["digest"]
    assert f"{registry.host}/team/app@{digest}" in dockerd.inspect(ref)["RepoDigests"]

    dockerd("image", "rm", ref, "e2e/docker-app:latest")
    assert not dockerd.has_image(image_id)

    pulled = dockerd("pull", ref)
    assert f"Digest: {digest}" in pulled
    inspected = dockerd.inspect(ref)
    assert inspected["Id"] == image_id
    assert inspected["RepoDigests"] == [f"{registry.host}/team/app@{digest}"]
    assert inspected["RootFS"]["Layers"] == json.loads(img.config.data)["rootfs"]["diff_ids"]


def test_push_to_second_repository_mounts_layers(dockerd, registry, tmp_path):
    img = builders.image("docker-mount", layer_count=2, docker=True)
    _load(dockerd, tmp_path, img, "e2e/docker-mount:latest")
    first, second = f"{registry.host}/team/base:v1", f"{registry.host}/team/derived:v1"
    dockerd("tag", "e2e/docker-mount:latest", first)
    dockerd("tag", "e2e/docker-mount:latest", second)
    first_digest = _pushed_digest(dockerd("push", first))
    log_start = registry.log.size()

    assert _pushed_digest(dockerd("push", second)) == first_digest

    log = registry.log.read(log_start)
    layers = json.loads(registry.manifest("team/derived", "v1", accept=builders.DOCKER_MANIFEST).body)["layers"]
    for layer in layers:
        assert f"mount blob repository=team/derived from=team/base digest={layer['digest']}" in log
        assert f"push blob repository=team/derived digest={layer['digest']}" not in log


def test_pull_platform_picks_child_of_index(dockerd, registry, tmp_path):
    amd64 = builders.image("docker-multi", architecture="amd64")
    arm64 = builders.image("docker-multi", architecture="arm64")
    layout, idx = builders.index_layout(tmp_path / "src", "v1", [amd64, arm64])
    ref = f"{registry.host}/team/multi:v1"
    skopeo_push(f"oci:{layout}:v1", f"docker://{ref}", "--all", "--dest-creds", ":".join(registry.credentials))

    for platform, img in (("linux/arm64", arm64), ("linux/amd64", amd64)):
        dockerd("pull", "--platform", platform, ref)
        inspected = dockerd.inspect(ref)
        assert inspected["Architecture"] == platform.split("/")[1]
        assert inspected["Id"] == img.config.digest
        # docker records the digest of what the tag names: the index, byte for byte as pushed.
        assert inspected["RepoDigests"] == [f"{registry.host}/team/multi@{idx.digest}"]
        dockerd("image", "rm", ref)


def test_login_with_wrong_password_fails_and_right_one_stores_a_refresh_token(dockerd, secured_registry):
    config_dir = Path(dockerd.env["DOCKER_CONFIG"])
    other_env = {**dockerd.env, "DOCKER_CONFIG": str(config_dir.parent / "cfg-login-test")}
    wrong = subprocess.run(
        ["docker", "login", secured_registry.host, "-u", "admin", "--password-stdin"],
        input="not-the-password", env=other_env, capture_output=True, text=True, timeout=60,
    )
    assert wrong.returncode != 0 and "unauthorized" in wrong.stderr.lower()
    right = subprocess.run(
        ["docker", "login", secured_registry.host, "-u", "admin", "--password-stdin"],
        input=secured_registry.credentials[1], env=other_env, capture_output=True, text=True, timeout=60,
    )
    assert right.returncode == 0 and "Login Succeeded" in right.stdout, right.stderr
    entry = json.loads((config_dir.parent / "cfg-login-test" / "config.json").read_text())["auths"][secured_registry.host]
    # docker keeps the refresh token (`offline_token=true`), not the password.
    assert entry.get("identitytoken", "").count(".") == 2
