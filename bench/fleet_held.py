"""Many connections held open by one thread over a selector, for the fleet benchmark
(bench/fleet.py): connections that sent half a request and never finish it, and idle
kept-alive ones that made one request. Each socket is plain and non-blocking; what became
of each is counted: opened, failed (and why), closed by the server while held."""
from __future__ import annotations

import errno
import os
import selectors
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

from fleet_clients import REQUEST_TIMEOUT, failure_reason


@dataclass
class Held:
    opened: int = 0  # connected and sent their bytes (and when answered=True, got a 200)
    failed: Counter = field(default_factory=Counter)  # the others: why
    closed_after: list[float] = field(default_factory=list)  # s after opening the server closed one
    window: tuple[float, float] = (0.0, 0.0)  # time.monotonic() span when all were open

    @property
    def still_open(self) -> int:
        return self.opened - len(self.closed_after)


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.state, self.buffer, self.since = sock, "connecting", b"", 0.0


def hold(port: int, count: int, request: bytes, seconds: float, *, answered: bool,
         setup_timeout: float = REQUEST_TIMEOUT, while_held=None) -> Held:
    """Open `count` connections to 127.0.0.1:`port`, send `request` on each, and (if
    `answered`) read one whole answer on each; then hold them all for `seconds`, call
    `while_held()` (e.g. to sample the server's memory), and close them. Those not open
    after `setup_timeout` count as failed."""
    held, selector, conns = Held(), selectors.DefaultSelector(), []

    def fail(conn: _Conn, reason: str) -> None:
        held.failed[reason] += 1
        _drop(selector, conn)

    try:
        for _ in range(count):
            try:
                sock = socket.socket()
            except OSError as exc:  # EMFILE: out of descriptors
                held.failed[failure_reason(exc)] += 1
                continue
            sock.setblocking(False)
            conn = _Conn(sock)
            conns.append(conn)
            selector.register(sock, selectors.EVENT_WRITE, conn)
            error = sock.connect_ex(("127.0.0.1", port))
            if error not in (0, errno.EINPROGRESS):
                fail(conn, failure_reason(OSError(error, os.strerror(error))))
        deadline = time.monotonic() + setup_timeout
        while any(c.state in ("connecting", "answering") for c in conns) and time.monotonic() < deadline:
            _turn(selector, held, request, answered, fail, deadline)
        for conn in conns:
            if conn.state in ("connecting", "answering"):
                fail(conn, "timeout")
        start = time.monotonic()
        while time.monotonic() < start + seconds:
            _turn(selector, held, request, answered, fail, start + seconds)
        if while_held is not None:
            while_held()
        held.window = (start, time.monotonic())
    finally:
        for conn in conns:
            conn.sock.close()
        selector.close()
    return held


def _drop(selector: selectors.BaseSelector, conn: _Conn) -> None:
    conn.state = "done"
    selector.unregister(conn.sock)
    conn.sock.close()


def _turn(selector, held: Held, request: bytes, answered: bool, fail, until: float) -> None:
    """Wait up to `until` for events and move each connection one step on."""
    for key, _ in selector.select(timeout=max(0.0, min(1.0, until - time.monotonic()))):
        conn: _Conn = key.data
        if conn.state == "connecting":
            error = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                fail(conn, failure_reason(OSError(error, os.strerror(error))))
                continue
            conn.sock.send(request)  # a few hundred bytes into a fresh socket's buffer
            selector.modify(conn.sock, selectors.EVENT_READ, conn)
            conn.state = "answering" if answered else "held"
            if not answered:
                held.opened, conn.since = held.opened + 1, time.monotonic()
            continue
        try:
            data = conn.sock.recv(65536)
        except OSError as exc:
            data, error = b"", exc
        else:
            error = None
        if conn.state == "held":
            # Closed, reset or answered (408, 400): the server let go of it either way.
            held.closed_after.append(time.monotonic() - conn.since)
            _drop(selector, conn)
        elif not data:
            fail(conn, failure_reason(error) if error else "reset")
        else:
            conn.buffer += data
            status = _status_if_whole(conn.buffer)
            if status == b"200":
                conn.state, conn.since, held.opened = "held", time.monotonic(), held.opened + 1
            elif status is not None:
                fail(conn, f"HTTP {status.decode()}")


def _status_if_whole(buffer: bytes) -> bytes | None:
    """The status of an answer once its headers and Content-Length body are all in."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buffer[:end].split(b"\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in lines[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    return lines[0].split(b" ", 2)[1] if len(buffer) >= end + 4 + length else None
