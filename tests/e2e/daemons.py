"""A private docker engine for the end-to-end tests, and the containerd it starts.

One dockerd per test module that asks for the `dockerd` fixture (so per xdist worker),
with its own data and exec roots, vfs storage and no networking of its own, as
/work/shared/REAL-CLIENTS.md describes; it is stopped through its own Popen handle. Its
containerd listens at `<root>/exec/containerd/containerd.sock`, which `ctr` talks to.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .support import ServerLog, require_tool, run, stop_process, unavailable

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

    @property
    def containerd_socket(self) -> Path:
        return self.root / "exec" / "containerd" / "containerd.sock"


def _stop(proc: subprocess.Popen, root: Path) -> None:
    # SIGTERM: dockerd stops the containerd it started, then exits and removes its pid file.
    if stop_process(proc):
        # A killed dockerd leaves its own containerd behind; it wrote that child's pid here.
        pid_file = root / "exec" / "containerd" / "containerd.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass


@contextlib.contextmanager
def running_dockerd(*extra_args: str, daemon_config: dict | None = None) -> Iterator[Dockerd]:
    """Start dockerd with `extra_args` (e.g. `--registry-mirror URL`); yield a Dockerd."""
    require_tool("docker")
    binary = require_tool("dockerd")
    if os.geteuid() != 0:
        unavailable("dockerd needs root; run the e2e tests as root")
    # Unix socket paths are limited to 108 bytes: a short directory right under /tmp.
    root = Path(tempfile.mkdtemp(prefix="d", dir="/tmp"))
    socket_path = root / "docker.sock"
    # Never the machine's /etc/docker/daemon.json.
    (root / "daemon.json").write_text(json.dumps(daemon_config or {}))
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
                "--storage-driver", "vfs", "--iptables=false", "--bridge=none", *extra_args,
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
