"""registry_project/gunicorn_worker.py under a real gunicorn: a kept-alive connection is
answered in order whatever the client's pace, a corked GET answer is not held back, and a
body received with readinto() (LengthBody) is stored whole and ends where the next request
begins. One worker, so every connection meets the same loop.

tests/e2e/test_cheap_connections.py has the slow, idle and hostile clients.
"""
from __future__ import annotations

import os
import re
import socket
import time

import pytest

from tests.builders import sha256

from .conftest import _running_registry
from .support import send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def small_pool(tmp_path_factory):
    root = tmp_path_factory.mktemp("small-pool")
    with _running_registry(root, auth=False, REGISTRY_WORKERS="1") as registry:
        yield registry


def test_one_connection_is_answered_at_every_pace(small_pool):
    """Pauses from none to longer than a client's usual, GET and HEAD, on the same socket
    throughout: each wait hands the database connection back and takes it again."""
    small_pool.push_blob("pace/app", b"some layer")
    conn = small_pool.connection()
    try:
        assert send(conn, "GET", "/v2/").status == 200
        sock = conn.sock
        for pause in (0, 0, 0.001, 0.003, 0.02, 0.2, 0, 0.001):
            time.sleep(pause)
            got = send(conn, "GET", "/v2/_catalog")
            assert got.status == 200 and b"pace/app" in got.body
            head = send(conn, "HEAD", "/v2/_catalog")
            assert head.status == 200 and head.body == b""
        assert conn.sock is sock  # never closed and reopened
    finally:
        conn.close()


def _responses(sock: socket.socket) -> bytes:
    data = b""
    sock.settimeout(10)
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_pipelined_requests_are_answered_in_order(small_pool):
    """Requests sent together: the second is already in the parser's buffer when the first
    is answered, and is served from there without waiting on the socket."""
    host, port = small_pool.host.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /v2/no/such/manifests/latest HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = _responses(sock)
    # A body ends where the next status line starts (Content-Length framing, no CRLF).
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    assert statuses == [b"200", b"404", b"200"]
    assert b"MANIFEST_UNKNOWN" in data or b"NAME_UNKNOWN" in data


def test_get_answers_are_not_held_back_by_the_cork(small_pool):
    """A GET's headers and body are corked into one segment and uncorked at the end: left
    corked, each answer's last partial segment would wait the kernel's 200 ms."""
    conn = small_pool.connection()
    try:
        send(conn, "GET", "/v2/")
        began = time.monotonic()
        for _ in range(20):
            got = send(conn, "GET", "/v2/_catalog")
            assert got.status == 200 and got.body.startswith(b"{")
        elapsed = time.monotonic() - began
    finally:
        conn.close()
    assert elapsed < 2, f"20 GETs took {elapsed:.2f} s"


def _upload_location(registry, name: str) -> str:
    started = registry.request("POST", f"/v2/{name}/blobs/uploads/")
    assert started.status == 202, started.body
    return started.headers["Location"]


def _put_target(location: str, data: bytes) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={sha256(data)}"


def test_a_body_and_the_request_pipelined_behind_it_are_both_served(small_pool):
    """A blob PUT, its body and the next request in one send: the body is received from
    what gunicorn read with the headers (LengthBody.readinto), never past its end."""
    data = b"layer bytes, sent with their headers " * 50
    location = _upload_location(small_pool, "piped/app")
    host, port = small_pool.host.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"PUT {_put_target(location, data)} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode() + data
            + b"GET /v2/_catalog HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        answers = _responses(sock)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answers)
    assert statuses == [b"201", b"200"]
    assert b"piped/app" in answers
    assert small_pool.request("GET", f"/v2/piped/app/blobs/{sha256(data)}").body == data


def test_a_body_sent_slowly_in_small_pieces_is_stored_whole(small_pool):
    data = bytes(range(256)) * 12_000  # ~3 MiB: three full chunks of the reader and a tail
    location = _upload_location(small_pool, "slow/app")
    host, port = small_pool.host.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"PUT {_put_target(location, data)} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data[:10]
        )
        for start in range(10, len(data), 500_000):
            time.sleep(0.02)
            sock.sendall(data[start:start + 500_000])
        answer = _responses(sock)
    assert answer.startswith(b"HTTP/1.1 201 ")
    assert small_pool.request("GET", f"/v2/slow/app/blobs/{sha256(data)}").body == data


def test_a_body_cut_short_leaves_the_upload_as_it_was(small_pool):
    """A PATCH whose client stops sending and closes: 400, the bytes of the earlier PATCH
    stay, and the session goes on with the next PATCH."""
    location = _upload_location(small_pool, "short/app")
    first = small_pool.request("PATCH", location, b"a" * 100, {"Content-Type": "application/octet-stream"})
    assert first.status == 202
    location = first.headers["Location"]
    host, port = small_pool.host.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            f"Content-Range: 100-1099\r\n\r\n".encode() + b"b" * 300
        )
        sock.shutdown(socket.SHUT_WR)
        answer = _responses(sock)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"SIZE_INVALID" in answer
    status = small_pool.request("GET", location)
    assert status.status == 204 and status.headers["Range"] == "0-99"
    rest = b"c" * 50
    done = small_pool.request("PUT", _put_target(location, b"a" * 100 + rest), rest)
    assert done.status == 201, done.body


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-workers")
    with _running_registry(root, auth=False, REGISTRY_WORKERS="2") as registry:
        yield registry


def _connections_per_worker(registry) -> dict[int, int]:
    """Established connections to the registry's port held by each of its workers, from
    /proc: /proc/net/tcp gives each connection's socket inode, /proc/PID/fd who holds it."""
    port = int(registry.host.rsplit(":", 1)[1])
    inodes = set()
    with open("/proc/net/tcp") as table:
        for row in list(table)[1:]:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(f"socket:[{fields[9]}]")
    workers = []
    for task in os.listdir(f"/proc/{registry.pid}/task"):
        with open(f"/proc/{registry.pid}/task/{task}/children") as children:
            workers += [int(pid) for pid in children.read().split()]
    held = {}
    for pid in workers:
        fds = os.listdir(f"/proc/{pid}/fd")
        held[pid] = sum(1 for fd in fds if _link(f"/proc/{pid}/fd/{fd}") in inodes)
    return held


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:  # an fd closed meanwhile
        return ""


def test_new_connections_go_to_the_worker_holding_fewer(two_workers):
    """Clients that connect one after another and stay connected (docker's kept-alive
    connections) end up spread evenly over the two workers, round after round: whichever
    worker woke first used to take each one, 12 to 4 as often as 8 to 8 (worker_balance.py)."""
    _wait_for_both_workers(two_workers)
    for _ in range(2):
        conns = []
        try:
            for _ in range(12):
                conn = two_workers.connection()
                conns.append(conn)
                assert send(conn, "GET", "/v2/").status == 200
            held = _connections_per_worker(two_workers)
        finally:
            for conn in conns:
                conn.close()
        assert sum(held.values()) == 12 and len(held) == 2, held
        assert max(held.values()) - min(held.values()) <= 2, held
        _wait_until_closed(two_workers)


def _wait_for_both_workers(registry) -> None:
    """The server answers once one worker is up; a worker still loading Django takes no
    connection. Connect until each worker has answered one."""
    conns, deadline = [], time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            conn = registry.connection()
            conns.append(conn)
            assert send(conn, "GET", "/v2/").status == 200
            if all(_connections_per_worker(registry).values()):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the second worker never took a connection")
    finally:
        for conn in conns:
            conn.close()
    _wait_until_closed(registry)


def _wait_until_closed(registry) -> None:
    deadline = time.monotonic() + 10
    while sum(_connections_per_worker(registry).values()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the workers see the closes before the next round
