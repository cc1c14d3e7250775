"""The servers a benchmark measures: ours under gunicorn, and CNCF Distribution when installed.

Both run on free loopback ports over temporary directories and are stopped through their
own process handles. Ours runs with the production gunicorn settings; access control is on,
and the client sends a Bearer token as docker does (Distribution runs without auth, its
default, which favours it).

With BENCH_AGAINST=<git revision>, the other server is ours as of that revision instead of
Distribution (a worktree of it, sharing this checkout's .venv): a change measured against
the code before it in one run, which a noisy machine's day-to-day drift cannot blur.
"""
from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
ADMIN_PASSWORD = "bench-password"
CLIENT_TIMEOUT = 300  # seconds a benchmark client waits on a silent server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KernelTimeoutConnection(http.client.HTTPConnection):
    """A blocking connection whose reads and writes give up after CLIENT_TIMEOUT seconds.

    Python's own socket timeout makes every recv() a poll() and a non-blocking read of
    whatever has arrived: that halved a pulling client's speed here (1,779-2,337 MiB/s
    from nginx against 3,166-4,023 without it), capping the pull figures at the client.
    The kernel's SO_RCVTIMEO/SO_SNDTIMEO give the same guard against a hung server."""

    def connect(self) -> None:
        super().connect()
        limit = struct.pack("ll", CLIENT_TIMEOUT, 0)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    token_auth: bool = False
    _tokens: dict = field(default_factory=dict)

    def headers_for(self, repo: str) -> dict:
        """Authorization for a repository: a Bearer token fetched once per repository."""
        if not self.token_auth:
            return {}
        if repo not in self._tokens:
            self._tokens[repo] = {"Authorization": f"Bearer {_fetch_token(self.port, repo)}"}
        return self._tokens[repo]

    def connection(self) -> http.client.HTTPConnection:
        return KernelTimeoutConnection("127.0.0.1", self.port)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _wait(port: int, path: str, headers: dict, proc: subprocess.Popen) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path, headers=headers)
            if conn.getresponse().status in (200, 401):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on {port} did not start")


def start_ours(data_dir: Path, root: Path = ROOT, name: str = "ours", **extra_env: str) -> Server:
    """Ours from the code in `root` (this checkout unless a revision's worktree)."""
    port = free_port()
    env = {**os.environ, "REGISTRY_DATA_DIR": str(data_dir), "REGISTRY_BIND": f"127.0.0.1:{port}",
           "REGISTRY_LOG_LEVEL": "WARNING", "REGISTRY_ADMIN_PASSWORD": ADMIN_PASSWORD,
           # Long enough for the whole run: the token is fetched once.
           "REGISTRY_TOKEN_TTL": "3600", **extra_env}
    subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=root, env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "registry_project.wsgi:application"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _wait(port, "/v2/", {}, proc)
    return Server(name, port, proc, token_auth=True)


@contextlib.contextmanager
def revision_worktree(revision: str, parent: Path):
    """A detached worktree of `revision` below `parent`, with this checkout's .venv; removed
    after the block."""
    path = parent / "revision"
    if subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), revision], cwd=ROOT).returncode:
        raise SystemExit(f"BENCH_AGAINST={revision}: not a revision of this checkout (git said why above)")
    try:
        (path / ".venv").symlink_to(ROOT / ".venv")
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


def _fetch_token(port: int, repo: str) -> str:
    """What docker does before each push or pull: a token for the repository's scope."""
    basic = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    query = urllib.parse.urlencode({"service": "docker-registry-manager", "scope": f"repository:{repo}:pull,push,delete"})
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", f"/auth/token?{query}", headers={"Authorization": f"Basic {basic}"})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"token request answered {response.status}: {body[:200]!r}")
    return json.loads(body)["token"]


SMALL_IMAGES = 200


def distribution_binary() -> str | None:
    return shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None
    )


def start_distribution(data_dir: Path) -> Server | None:
    binary = distribution_binary()
    if binary is None:
        return None
    port = free_port()
    config = data_dir / "config.yml"
    data_dir.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data_dir / 'storage'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(port, "/v2/", {}, proc)
    return Server("distribution", port, proc)


@contextlib.contextmanager
def running(data_dir: Path):
    """Ours and Distribution (when installed; ours at BENCH_AGAINST's revision when set)
    side by side, each over a directory below `data_dir`: {name: Server} for the block, ours
    first, all stopped when it ends."""
    started = {}
    against = os.environ.get("BENCH_AGAINST")
    with contextlib.ExitStack() as stack:
        try:
            started["ours"] = start_ours(data_dir / "ours")
            if against:
                root = stack.enter_context(revision_worktree(against, data_dir))
                started[f"ours@{against}"] = start_ours(data_dir / "against", root=root, name=f"ours@{against}")
            else:
                server = start_distribution(data_dir / "distribution")
                if server is None:
                    print("(Debian's docker-registry is not installed: no comparison)")
                else:
                    started["distribution"] = server
            yield started
        finally:
            for server in started.values():
                server.stop()
