"""Slow, idle and hostile connections cost a socket, never a worker: under a real gunicorn
with deploy/gunicorn.conf.py, access control on (registry_project/gunicorn_worker.py).

These are functional checks with generous bounds, not benchmarks (`make bench-fleet`
measures). Each would fail on a worker holding a thread per connection: 2 workers of 12
threads stopped answering at 24 held connections.
"""
from __future__ import annotations

import base64
import contextlib
import os
import resource
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from registry_project.sqlite_pool.base import MAX_IDLE
from tests.builders import sha256

from .conftest import _running_registry
from .support import LiveRegistry

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
# A normal request must be answered within this while the others are held: generous, for
# a loaded CI machine; a starved server never answers at all.
PROMPT = 10.0


@pytest.fixture(scope="module", autouse=True)
def _enough_descriptors():
    """The tests hold several hundred sockets; the shell's soft limit may be 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """As installed (access control on), with short deadlines so the tests see them."""
    root = tmp_path_factory.mktemp("cheap")
    with _running_registry(root, auth=True, REGISTRY_HEADER_TIMEOUT="2", REGISTRY_STALL_TIMEOUT="2") as live:
        yield live


def _basic(registry: LiveRegistry) -> str:
    user, password = registry.credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _connect(registry: LiveRegistry, timeout: float = 30) -> socket.socket:
    address, port = registry.host.rsplit(":", 1)
    return socket.create_connection((address, int(port)), timeout=timeout)


def _read_answer(sock: socket.socket) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 answer with a Content-Length (or none, for a HEAD) off `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, rest


def _timed_request(registry: LiveRegistry, method: str, path: str) -> tuple[int, float]:
    """A request on a new connection: its status and how long the answer took."""
    began = time.monotonic()
    with _connect(registry, timeout=PROMPT) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: {registry.host}\r\nAuthorization: {_basic(registry)}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        status, _, _ = _read_answer(sock)
    return status, time.monotonic() - began


def _half_requests(registry: LiveRegistry, count: int) -> list[socket.socket]:
    """`count` connections, each holding a request line and part of its headers."""
    held = []
    for _ in range(count):
        sock = _connect(registry)
        sock.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {registry.host}\r\nUser-Agent: half".encode())
        held.append(sock)
    return held


def _slow_pull(registry: LiveRegistry, path: str, size: int, results: list, rate: float) -> None:
    """GET `path`, reading its body at about `rate` bytes/s; appends the body's digest."""
    with _connect(registry, timeout=60) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {registry.host}\r\nAuthorization: {_basic(registry)}\r\n\r\n".encode()
        )
        status, _, body = _read_answer(sock)
        assert status == 200
        piece = max(1, int(rate / 10))
        while len(body) < size:
            chunk = sock.recv(min(piece, size - len(body)))
            if not chunk:
                break
            body += chunk
            time.sleep(0.1)
        results.append(sha256(body))


def _slow_push(registry: LiveRegistry, name: str, data: bytes, results: list, rate: float) -> None:
    """A monolithic push whose body is sent at about `rate` bytes/s; appends the status."""
    with _connect(registry, timeout=60) as sock:
        sock.sendall(
            f"POST /v2/{name}/blobs/uploads/?digest={sha256(data)} HTTP/1.1\r\nHost: {registry.host}\r\n"
            f"Authorization: {_basic(registry)}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
        )
        piece = max(1, int(rate / 10))
        for start in range(0, len(data), piece):
            sock.sendall(data[start:start + piece])
            time.sleep(0.1)
        status, _, _ = _read_answer(sock)
        results.append(status)


def test_held_half_requests_and_slow_transfers_leave_others_answered(registry):
    """300 half-sent requests, 40 slow pulls and 40 slow pushes at once: more than a
    thread-per-connection worker had threads. A manifest check, the version check and a
    small push are still answered at once, and every slow transfer ends whole."""
    layer = os.urandom(2 * MIB)
    digest = registry.push_blob("cheap/app", layer)
    pushes = {f"cheap/push{i}": os.urandom(MIB // 2) for i in range(40)}
    pulled: list[str] = []
    pushed: list[int] = []
    workers = [
        threading.Thread(target=_slow_pull, args=(registry, f"/v2/cheap/app/blobs/{digest}", len(layer), pulled, MIB))
        for _ in range(40)
    ] + [
        threading.Thread(target=_slow_push, args=(registry, name, data, pushed, MIB // 8))
        for name, data in pushes.items()
    ]
    held = _half_requests(registry, 300)
    try:
        for worker in workers:
            worker.start()
        time.sleep(1)  # every slow transfer under way
        for method, path in [("GET", "/v2/"), ("HEAD", f"/v2/cheap/app/blobs/{digest}"), ("GET", "/v2/_catalog")]:
            status, took = _timed_request(registry, method, path)
            assert status == 200 and took < PROMPT, (method, path, status, took)
        small = os.urandom(4096)
        began = time.monotonic()
        assert registry.push_blob("cheap/small", small) == sha256(small)
        assert time.monotonic() - began < PROMPT
    finally:
        for worker in workers:
            worker.join(timeout=60)
        for sock in held:
            sock.close()
    assert pulled == [digest] * 40
    assert pushed == [201] * 40
    for name, data in pushes.items():
        assert registry.request("HEAD", f"/v2/{name}/blobs/{sha256(data)}").status == 200


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """When the server closed `sock` (seconds from now), or None if it had not by then."""
    began = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - began


def test_headers_not_complete_by_the_deadline_close_the_connection_quietly(registry):
    """REGISTRY_HEADER_TIMEOUT=2: half a request is closed after it, and so is one that
    trickles a byte at a time (the deadline is for the whole headers, not between bytes)."""
    start = registry.log.size()
    [half] = _half_requests(registry, 1)
    trickle = _connect(registry)
    stop = threading.Event()

    def drip():
        with contextlib.suppress(OSError):
            for byte in b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
                if stop.wait(0.1):
                    return
                trickle.send(bytes([byte]))

    dripping = threading.Thread(target=drip)
    dripping.start()
    try:
        assert 1.0 < (_closed_within(half, 15) or 99) < 15
        assert (_closed_within(trickle, 15) or 99) < 15
    finally:
        stop.set()
        dripping.join()
        half.close()
        trickle.close()
    log = registry.log.read(start)
    assert "ERROR" not in log and "Traceback" not in log, log


def test_a_client_that_stops_reading_is_dropped_at_the_stall_deadline(registry):
    """REGISTRY_STALL_TIMEOUT=2: a pull whose client reads nothing is closed, quietly."""
    layer = os.urandom(32 * MIB)
    digest = registry.push_blob("cheap/stall", layer)
    start = registry.log.size()
    sock = _connect(registry)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    try:
        sock.sendall(
            f"GET /v2/cheap/stall/blobs/{digest} HTTP/1.1\r\nHost: {registry.host}\r\n"
            f"Authorization: {_basic(registry)}\r\n\r\n".encode()
        )
        time.sleep(6)  # the stall deadline passes while nothing is read
        received = 0
        sock.settimeout(15)
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(MIB):
                received += len(chunk)
        assert received < len(layer)  # closed before the end, not waited for
    finally:
        sock.close()
    log = registry.log.read(start)
    assert "ERROR" not in log and "Traceback" not in log, log


def test_a_fast_pull_cut_off_midway_is_a_quiet_hang_up(registry):
    """A client reading at loopback speed has its pull sent from the worker's thread pool
    (ClientSocket.sendfile); hanging up with a reset midway ends it like any hang-up: no
    error or traceback in the log, and the next pull of the blob is whole."""
    layer = os.urandom(48 * MIB)
    digest = registry.push_blob("cheap/cut", layer)
    start = registry.log.size()
    for _ in range(3):
        sock = _connect(registry)
        sock.sendall(
            f"GET /v2/cheap/cut/blobs/{digest} HTTP/1.1\r\nHost: {registry.host}\r\n"
            f"Authorization: {_basic(registry)}\r\n\r\n".encode()
        )
        received = 0
        while received < 8 * MIB:
            chunk = sock.recv(MIB)
            assert chunk, "closed before 8 MiB"
            received += len(chunk)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        sock.close()
    whole = registry.request("GET", f"/v2/cheap/cut/blobs/{digest}")
    assert whole.status == 200 and sha256(whole.body) == digest
    time.sleep(0.5)  # the worker sees the reset on its next send
    log = registry.log.read(start)
    assert "ERROR" not in log and "Traceback" not in log and "failed with" not in log, log


def _database_descriptors(registry: LiveRegistry) -> int:
    """Open descriptors of the server's processes on its SQLite database file."""
    database = (registry.data_dir / "registry.sqlite3").resolve()
    pids = [registry.pid]
    for task in Path(f"/proc/{registry.pid}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    count = 0
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                count += os.readlink(fd) == str(database)
    return count


def test_waiting_clients_hold_no_database_connection(tmp_path):
    """200 kept-alive connections that each made a request and wait, and 30 pushes whose
    bodies come slowly: the database connections open stay within the workers' pools
    (MAX_IDLE each), where a thread per connection kept one per thread."""
    with _running_registry(tmp_path / "registry", auth=True, sqlite=True) as live:
        digest = live.push_blob("idle/app", b"a layer")
        idle, pushed = [], []
        pushes = [
            threading.Thread(target=_slow_push, args=(live, f"idle/push{i}", os.urandom(MIB // 4), pushed, MIB // 16))
            for i in range(30)
        ]
        try:
            for _ in range(200):
                sock = _connect(live)
                sock.sendall(
                    f"HEAD /v2/idle/app/blobs/{digest} HTTP/1.1\r\nHost: {live.host}\r\n"
                    f"Authorization: {_basic(live)}\r\n\r\n".encode()
                )
                assert _read_answer(sock)[0] == 200
                idle.append(sock)
            for push in pushes:
                push.start()
            time.sleep(2)  # every push has begun and waits for its body
            assert _database_descriptors(live) <= 2 * MAX_IDLE
            status, took = _timed_request(live, "HEAD", f"/v2/idle/app/blobs/{digest}")
            assert status == 200 and took < PROMPT
        finally:
            for push in pushes:
                push.join(timeout=60)
            for sock in idle:
                sock.close()
        assert pushed == [201] * 30


def _exited(pid: int) -> bool:
    """Whether the process has ended (a zombie waiting for its parent's wait counts)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_a_graceful_stop_lets_a_running_pull_finish(tmp_path):
    """SIGTERM during a slow pull: the pull ends whole, idle connections are let go, and
    the server exits well before gunicorn's graceful timeout."""
    with _running_registry(tmp_path / "registry", auth=True) as live:
        layer = os.urandom(4 * MIB)
        digest = live.push_blob("stop/app", layer)
        pulled: list[str] = []
        pulling = threading.Thread(
            target=_slow_pull, args=(live, f"/v2/stop/app/blobs/{digest}", len(layer), pulled, MIB)
        )
        idle = _connect(live)
        idle.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {live.host}\r\nAuthorization: {_basic(live)}\r\n\r\n".encode())
        assert _read_answer(idle)[0] == 200
        pulling.start()
        time.sleep(1)
        began = time.monotonic()
        os.kill(live.pid, signal.SIGTERM)
        try:
            pulling.join(timeout=60)
            assert pulled == [digest]
            assert _closed_within(idle, 15) is not None  # let go, not held to keep-alive
            deadline = time.monotonic() + 25
            while time.monotonic() < deadline and not _exited(live.pid):
                time.sleep(0.2)
            assert _exited(live.pid) and time.monotonic() - began < 25  # graceful_timeout: 30 s
        finally:
            idle.close()
