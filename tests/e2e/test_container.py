"""The Dockerfile builds and its image serves, on this machine's docker engine.

The engine here cannot pull python:3.11-slim (no Docker Hub), has no network in RUN steps
without `--network host`, and sits behind a TLS-intercepting proxy pip would not trust. So
the base is the stand-in of scripts/container-base.sh (debootstrap bookworm + pip + this
host's CA certificates; its root filesystem cached in /var/tmp between runs), passed as
BASE_IMAGE, and the build uses the host network: the README's workaround, step by step.

The build context is a copy of the tracked files plus decoy secrets where an operator puts
real ones (deploy/certs/, deploy/admin_password.txt, .env, data/, .venv/); none may reach
the image. Slow (minutes: pip downloads, vfs copies every layer), so it is marked
`container`, left out of `make test` and run by `make test-container`.
"""
from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, _free_port
from .support import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.container]

BASE_CACHE = Path("/var/tmp/docker-registry-manager-base")
BASE_TAG = "drm-test-base:bookworm"
IMAGE = "drm-test-image:latest"
DECOYS = {
    "deploy/certs/registry.example.com.key": "-----BEGIN PRIVATE KEY-----decoy",
    "deploy/admin_password.txt": "decoy-admin-password",
    ".env": "REGISTRY_SECRET_KEY=decoy",
    "data/secret_key": "decoy",
    ".venv/bin/python": "decoy",
}


def _docker(dockerd, *args: str, timeout: float = 120) -> str:
    result = subprocess.run(["docker", *args], env=dockerd.env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"docker {' '.join(args)}:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    return result.stdout


def _context(directory: Path) -> Path:
    """The tracked files as a checkout has them, plus the decoys."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        source = REPO_ROOT / name
        if source.is_file():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, directory / name)
    for name, content in DECOYS.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(content)
    return directory


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_image_builds_and_serves(dockerd, tmp_path):
    require_tool("debootstrap")
    subprocess.run(["sh", str(REPO_ROOT / "scripts" / "container-base.sh"), BASE_TAG, str(BASE_CACHE)],
                   env=dockerd.env, check=True, capture_output=True, timeout=1800)
    context = _context(tmp_path / "context")
    _docker(dockerd, "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE_TAG}", "-t", IMAGE,
            str(context), timeout=1800)

    listing = _docker(dockerd, "run", "--rm", "--network", "none", "--entrypoint", "sh", IMAGE, "-c",
                      "id -un; cd /app && find . -name __pycache__ -prune -o -print | sort; "
                      "python -m pip list --format=freeze")
    lines = listing.splitlines()
    assert lines[0] == "registry"
    for name in DECOYS:
        assert f"./{name}" not in lines, name
    assert "./tests" not in lines and "./bench" not in lines and "./data" not in lines
    assert "./deploy/gunicorn.conf.py" in lines and "./manage.py" in lines
    assert not [line for line in lines if line.lower().startswith(("pytest", "playwright"))]

    port = _free_port()
    name = f"drm-test-{uuid.uuid4().hex[:8]}"
    _docker(dockerd, "run", "-d", "--name", name, "--network", "host",
            "-e", f"REGISTRY_BIND=127.0.0.1:{port}", "-e", "REGISTRY_ADMIN_PASSWORD=container-test", IMAGE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/healthz") == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(_docker(dockerd, "logs", name))
        assert _get(f"{base}/readyz") == 200
        assert _get(f"{base}/v2/") == 401  # access control on, as installed
    finally:
        subprocess.run(["docker", "rm", "-f", name], env=dockerd.env, capture_output=True, timeout=60)
