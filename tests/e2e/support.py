"""What the end-to-end tests share: a running server's log, a raw HTTP client, and a
runner for the real command-line clients (skopeo, docker).
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import NoReturn

import pytest

from tests.builders import Blob, sha256

# One client command should never take this long with the small images used here.
COMMAND_TIMEOUT = 120


@dataclass
class ServerLog:
    """A server's combined stdout/stderr file, read by offset so a test sees its own lines."""

    path: Path

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def read(self, start: int = 0) -> str:
        if not self.path.exists():
            return ""
        with self.path.open("rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")


@dataclass
class Response:
    status: int
    headers: Message  # http.client's HTTPMessage: `get_all` sees repeated headers
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class LiveRegistry:
    """gunicorn serving the registry on a loopback port."""

    host: str  # "127.0.0.1:PORT", as image references spell it
    base_url: str
    data_dir: Path
    log: ServerLog
    # The server's environment, for `manage` commands against the same database.
    env: dict = field(default_factory=dict, repr=False)
    # (user, password) sent as HTTP Basic by `request` when access control is on.
    credentials: tuple[str, str] | None = None
    # The gunicorn master's pid (its workers are its children), once it runs.
    pid: int = 0

    def manage(self, *args: str) -> str:
        """Run `manage.py` against this server's data (e.g. `shell -c` to create users)."""
        repo_root = Path(__file__).resolve().parents[2]
        return run([sys.executable, "manage.py", *args], env=self.env, cwd=repo_root)

    def connection(self) -> http.client.HTTPConnection:
        address, port = self.host.rsplit(":", 1)
        return http.client.HTTPConnection(address, int(port), timeout=30)

    def request(self, method: str, path: str, body=None, headers: dict | None = None) -> Response:
        """One request on a fresh connection; `body` may be bytes or an iterable (chunked)."""
        headers = dict(headers or {})
        if self.credentials and "Authorization" not in headers:
            user, password = self.credentials
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        conn = self.connection()
        try:
            return send(conn, method, path, body, headers)
        finally:
            conn.close()

    def push_blob(self, name: str, data: bytes) -> str:
        """A single-POST upload (`POST …/uploads/?digest=`); returns the digest."""
        digest = sha256(data)
        response = self.request(
            "POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data,
            {"Content-Type": "application/octet-stream"},
        )
        assert response.status == 201, (response.status, response.body)
        return digest

    def manifest(self, name: str, reference: str, accept: str | None = None) -> Response:
        return self.request("GET", f"/v2/{name}/manifests/{reference}", headers={"Accept": accept} if accept else {})


def send_chunk(registry: LiveRegistry, method: str, location: str, data: bytes, start: int) -> Response:
    """A PATCH (or the closing PUT) of an upload session with the chunk's Content-Range."""
    return registry.request(method, location, data, {
        "Content-Range": f"{start}-{start + len(data) - 1}", "Content-Type": "application/octet-stream",
    })


def upload_across_instances(a: LiveRegistry, b: LiveRegistry, data: bytes, part: int) -> None:
    """A chunked upload started on `a`, checked and continued on `b`, closed on `a` (chunks
    straddling `part`-sized parts or blocks of a store), then pulled from both."""
    first, second, third = data[:part + 1234], data[part + 1234:2 * part + 99], data[2 * part + 99:]
    started = a.request("POST", "/v2/e2e/chunks/blobs/uploads/")
    assert started.status == 202
    location = started.headers["Location"]
    assert send_chunk(a, "PATCH", location, first, 0).status == 202

    status = b.request("GET", location)
    assert status.status == 204 and status.headers["Range"] == f"0-{len(first) - 1}"
    patched = send_chunk(b, "PATCH", location, second, len(first))
    assert patched.status == 202 and patched.headers["Range"] == f"0-{len(first) + len(second) - 1}"
    done = send_chunk(a, "PUT", f"{location}?digest={sha256(data)}", third, len(first) + len(second))
    assert done.status == 201, done.body

    for registry in (a, b):
        blob = registry.request("GET", f"/v2/e2e/chunks/blobs/{sha256(data)}")
        assert blob.status == 200 and blob.body == data


def send(conn: http.client.HTTPConnection, method: str, path: str, body=None, headers: dict | None = None) -> Response:
    """One request on `conn`, read to the end so the connection can be reused."""
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return Response(response.status, response.msg, response.read())


# Set by .ci/run: there, a client or condition the end-to-end tests need that is missing
# fails the run, so a CI machine lacking one cannot pass by skipping its tests. Locally
# (unset) such tests are skipped, so a developer without docker can still run the rest.
REQUIRE_TOOLS_VARIABLE = "REGISTRY_E2E_REQUIRE_TOOLS"


def tools_required() -> bool:
    return os.environ.get(REQUIRE_TOOLS_VARIABLE, "") not in ("", "0")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`, or fail it when REGISTRY_E2E_REQUIRE_TOOLS is set."""
    if tools_required():
        pytest.fail(f"{reason} ({REQUIRE_TOOLS_VARIABLE} is set: this machine must have it)", pytrace=False)
    pytest.skip(reason)


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> bool:
    """Stop a server this test run started, by its Popen handle; True if it had to be killed."""
    if proc.poll() is not None:
        return False
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
        return False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (.ci/run installs it from Debian)")
    return path


def run(args: list, env: dict | None = None, cwd: Path | None = None) -> str:
    """Run a client command and return its stdout; a failure shows the command and stderr."""
    result = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result.stdout


def skopeo(*args: str | Path) -> str:
    """skopeo with TLS verification off: the registry speaks plain HTTP on loopback."""
    return run([require_tool("skopeo"), *args])


def skopeo_push(source: str, destination: str, *options: str) -> str:
    return skopeo("copy", "--quiet", "--dest-tls-verify=false", *options, source, destination)


def skopeo_raw(reference: str, *options: str) -> bytes:
    """`skopeo inspect --raw`: the manifest bytes exactly as the registry served them."""
    result = subprocess.run(
        [require_tool("skopeo"), "inspect", "--raw", "--tls-verify=false", *options, reference],
        capture_output=True, timeout=COMMAND_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def layout_blob(directory: Path, digest: str) -> bytes:
    """A blob's bytes from an OCI image layout written by `skopeo copy … oci:DIR`."""
    return (directory / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def blob_bytes(blobs: list[Blob]) -> dict[str, bytes]:
    return {b.digest: b.data for b in blobs}
