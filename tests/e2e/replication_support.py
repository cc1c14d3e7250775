"""What the replication tests share: Debian's Distribution (`docker-registry`) as a remote,
a TCP relay that can cut a remote off mid-transfer, and helpers that configure rules and
run the worker through `manage.py`, as an operator would."""
from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests import builders

from .conftest import REPO_ROOT, _free_port
from .support import LiveRegistry, ServerLog, stop_process, unavailable

DISTRIBUTION = Path("/usr/bin/docker-registry")


@contextlib.contextmanager
def running_distribution(root: Path, port: int | None = None):
    """Distribution on a loopback port over `root` (deletes enabled), stopped by its Popen
    handle when the block ends; the same `root` and `port` again is a restart."""
    if not DISTRIBUTION.exists():
        unavailable("Debian's docker-registry (Distribution) is not installed")
    port = port or _free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: info\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = ServerLog(root / "distribution.log")
    registry = LiveRegistry(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", root / "storage", log)
    with log.path.open("ab") as log_file:
        proc = subprocess.Popen([str(DISTRIBUTION), "serve", str(config)], stdout=log_file, stderr=subprocess.STDOUT)
    registry.pid = proc.pid
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if registry.request("GET", "/v2/").status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start:\n{log.read()}")
            time.sleep(0.1)
        yield registry, proc
    finally:
        stop_process(proc)


class Relay:
    """Forwards a loopback port to `target_port`; once `cut_after` request bytes went
    through, calls `on_cut` (which stops the remote) and drops every connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut_after: int | None = None
        self.on_cut: Callable[[], None] = lambda: None
        self.sent = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        try:
            while data := source.recv(65536):
                if counted:
                    with self._lock:
                        self.sent += len(data)
                        cut = self.cut_after is not None and self.sent >= self.cut_after
                    if cut:
                        self.cut_after = None
                        self.on_cut()
                        self.drop()
                        return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.close()
        self._sockets.clear()

    def close(self) -> None:
        self._listener.close()
        self.drop()


def push_image(registry: LiveRegistry, name: str, reference: str, img: builders.Image | None = None,
               manifest: builders.Blob | None = None) -> str:
    """Blobs (POST then PUT: Distribution has no single-POST upload) then the manifest (an
    image's, or `manifest` as given); its digest."""
    for blob in img.blobs if img else []:
        started = registry.request("POST", f"/v2/{name}/blobs/uploads/")
        assert started.status == 202, (started.status, started.body)
        location = started.headers["Location"]
        location = location.split("://", 1)[1].split("/", 1)[1] if "://" in location else location.lstrip("/")
        separator = "&" if "?" in location else "?"
        put = registry.request("PUT", f"/{location}{separator}digest={blob.digest}", blob.data,
                               {"Content-Type": "application/octet-stream"})
        assert put.status == 201, (put.status, put.body)
    manifest = manifest or img.manifest
    put = registry.request("PUT", f"/v2/{name}/manifests/{reference}", manifest.data,
                           {"Content-Type": manifest.media_type})
    assert put.status == 201, (put.status, put.body)
    return manifest.digest


def configure(registry: LiveRegistry, *, remote: str, url: str, rule: str, username: str = "",
              password: str = "", **fields) -> None:
    """A remote and a rule, as staff would enter them in the admin."""
    registry.manage("shell", "-c", (
        "from registry_api.proxy.credentials import password_encrypt\n"
        "from replication.models import Remote, Rule\n"
        f"stored = password_encrypt({password!r}) if {password!r} else ''\n"
        f"remote, _ = Remote.objects.update_or_create(name={remote!r}, defaults=dict(upstream_url={url!r}, "
        f"username={username!r}, password_encrypted=stored))\n"
        f"Rule.objects.update_or_create(name={rule!r}, defaults=dict(remote=remote, **{fields!r}))\n"
    ))


def replicate_now(registry: LiveRegistry, rule: str, repository: str = "") -> None:
    """A full pass of the rule, or of one of its source repositories, queued by hand."""
    registry.manage("shell", "-c", (
        "from replication.models import Rule\nfrom replication.triggers import replicate_now\n"
        f"replicate_now(Rule.objects.get(name={rule!r}), {repository!r})\n"
    ))


def run_worker_once(registry: LiveRegistry, **env: str) -> str:
    """`manage.py replicate --once` (with `env` added to the registry's environment): its
    output and log lines, which must hold no traceback."""
    result = subprocess.run([sys.executable, "manage.py", "replicate", "--once"], env={**registry.env, **env},
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in output, output
    return output


@contextlib.contextmanager
def running_worker(registry: LiveRegistry):
    """The worker loop, as the systemd unit runs it, stopped by its Popen handle."""
    with (registry.data_dir.parent / "worker.log").open("ab") as log_file:
        proc = subprocess.Popen([sys.executable, "manage.py", "replicate", "--interval", "0.2"], env=registry.env,
                                cwd=REPO_ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop_process(proc)


def runs(registry: LiveRegistry, rule: str) -> list[dict]:
    """Each run of the rule's jobs, oldest first, with its artifacts."""
    out = registry.manage("shell", "-c", (
        "import json\nfrom replication.models import Run\n"
        "print(json.dumps([dict(id=r.id, job=r.job_id, kind=r.job.kind, status=r.job.status, succeeded=r.succeeded,"
        " error=r.error, artifacts=list(r.artifacts.values('kind', 'repository', 'digest', 'tag', 'state', 'bytes',"
        " 'error'))) for r in Run.objects.filter(job__rule__name="
        f"{rule!r}).order_by('id')]))\n"
    ))
    return json.loads(out.strip().splitlines()[-1])


def manifest_digest(registry: LiveRegistry, name: str, reference: str) -> str | None:
    accept = ", ".join([builders.OCI_INDEX, builders.OCI_MANIFEST, builders.DOCKER_MANIFEST])
    response = registry.request("HEAD", f"/v2/{name}/manifests/{reference}", headers={"Accept": accept})
    return response.headers["Docker-Content-Digest"] if response.status == 200 else None


class MisbehavingRemote:
    """A registry on loopback that asks for Basic credentials and then misbehaves per
    repository: `good/app` is served correctly, `bad/digest` announces another digest
    for its manifest, `bad/oversized` sends a manifest over the registry's 4 MiB cap,
    `bad/redirect` sends blob GETs to another host name (`localhost`
    rather than 127.0.0.1), which records the Authorization it received and refuses (403)
    requests without credentials."""

    def __init__(self, username: str, password: str, images: dict[str, builders.Image]) -> None:
        import base64
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        blobs = {b.digest: b.data for img in images.values() for b in img.blobs}
        self.authorization_elsewhere: list[str | None] = []
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path.startswith("/elsewhere/"):
                    remote.authorization_elsewhere.append(self.headers.get("Authorization"))
                    return self._answer(403 if not self.headers.get("Authorization") else 200)
                if self.headers.get("Authorization") != expected:
                    return self._answer(401, headers={"WWW-Authenticate": 'Basic realm="misbehaving"'})
                parts = path.split("/")
                name = "/".join(parts[2:4])
                img = images.get(name)
                if path == "/v2/":
                    return self._answer(200, b"{}")
                if img is None:
                    return self._answer(404)
                if parts[4] == "tags":
                    return self._answer(200, json.dumps({"name": name, "tags": ["v1"]}).encode())
                if parts[4] == "manifests" and name == "bad/oversized":
                    return self._answer(200, b" " * (4 * 1024 * 1024 + 1), {"Content-Type": img.manifest.media_type})
                if parts[4] == "manifests":
                    digest = img.manifest.digest if name != "bad/digest" else builders.sha256(b"something else")
                    return self._answer(200, img.manifest.data, {"Content-Type": img.manifest.media_type,
                                                                 "Docker-Content-Digest": digest})
                if parts[4] == "blobs" and name == "bad/redirect":
                    port = self.server.server_address[1]
                    return self._answer(307, headers={"Location": f"http://localhost:{port}/elsewhere/{parts[5]}"})
                if parts[4] == "blobs" and parts[5] in blobs:
                    return self._answer(200, blobs[parts[5]], {"Docker-Content-Digest": parts[5]})
                return self._answer(404)

            do_HEAD = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
