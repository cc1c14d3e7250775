"""The docker CLI and engine against the registry as installed (access control on): login
(with a password, with an access token), push, pull, --platform; and with anonymous pull on.

The private dockerd (tests/e2e/daemons.py) treats 127.0.0.0/8 registries as plain-HTTP
ones by default. Images enter it with `docker load` of an archive built by
tests/builders.py, so nothing is fetched from outside.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests import builders
from tests.builders import sha256

from .daemons import Dockerd
from .support import run, skopeo_push

pytestmark = pytest.mark.e2e

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


def _login(env: dict, host: str, user: str, password: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "login", host, "-u", user, "--password-stdin"],
                          input=password, env=env, capture_output=True, text=True, timeout=60)


ROBOT = """
from registry_api.models import Namespace
from registry_api.services.robots import robot_create
print(robot_create(username="docker-robot", namespace=Namespace.objects.get_or_create(name="team")[0],
                   level="push").secret)
"""


def test_login_with_an_access_token_then_push_and_pull(dockerd, secured_registry, tmp_path):
    token = secured_registry.manage("shell", "-c", ROBOT).strip().splitlines()[-1]
    env = {**dockerd.env, "DOCKER_CONFIG": str(tmp_path / "robot-cfg")}
    login = _login(env, secured_registry.host, "docker-robot", token)
    assert login.returncode == 0 and "Login Succeeded" in login.stdout, login.stderr
    img = builders.image("docker-robot", layer_count=1, docker=True)
    image_id = _load(dockerd, tmp_path, img, "e2e/docker-robot:latest")
    ref = f"{secured_registry.host}/team/robot-pushed:v1"
    dockerd("tag", "e2e/docker-robot:latest", ref)
    digest = _pushed_digest(run(["docker", "push", ref], env=env))
    dockerd("image", "rm", ref, "e2e/docker-robot:latest")
    assert f"Digest: {digest}" in run(["docker", "pull", ref], env=env)
    assert dockerd.inspect(ref)["Id"] == image_id
    dockerd("image", "rm", ref)


def test_with_anonymous_pull_login_needs_the_password_and_pulls_need_none(dockerd, anonymous_pull_registry, tmp_path):
    registry = anonymous_pull_registry
    img = builders.image("docker-anonymous", layer_count=1)
    layout = builders.image_layout(tmp_path / "src", "v1", img)
    skopeo_push(f"oci:{layout}:v1", f"docker://{registry.host}/pub/open:v1", "--dest-creds", ":".join(registry.credentials))
    env = {**dockerd.env, "DOCKER_CONFIG": str(tmp_path / "anonymous-cfg")}
    wrong = _login(env, registry.host, "admin", "not-the-password")
    assert wrong.returncode != 0 and "Login Succeeded" not in wrong.stdout
    assert not (tmp_path / "anonymous-cfg" / "config.json").exists() or registry.host not in (
        tmp_path / "anonymous-cfg" / "config.json").read_text()
    ref = f"{registry.host}/pub/open:v1"
    run(["docker", "pull", ref], env=env)  # no credentials at all
    assert dockerd.inspect(ref)["Id"] == img.config.digest
    dockerd("image", "rm", ref)
