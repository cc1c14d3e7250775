"""The fleet benchmark's clients (bench/fleet.py): slow pulls and pushes paced to a rate,
a request repeated on a schedule on new connections, and many connections held open by
one thread. None of them ends the run on a failure: a refused, reset, timed-out or wrong
answer is counted with its reason, as the figure the fleet benchmark is after."""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import resource
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

REQUEST_TIMEOUT = 30.0  # seconds a request may go unanswered before it counts as failed
SLICE = 256 * 1024  # a slow transfer moves this much, then sleeps to keep its rate


def raise_open_files_limit() -> int:
    """The soft limit on open files raised to the hard one; the fleet holds >3,000 sockets."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
        return "reset"
    return type(exc).__name__


@dataclass
class Tally:
    """What happened to each request of a kind: when it started, how long it took if it
    succeeded (s), and why it failed if it did. Threads add to it concurrently."""

    ok: list[tuple[float, float]] = field(default_factory=list)
    failed: list[tuple[float, str]] = field(default_factory=list)

    def add(self, started: float, seconds: float | None, reason: str = "") -> None:
        # list.append is atomic under the GIL: no lock needed.
        if seconds is None:
            self.failed.append((started, reason))
        else:
            self.ok.append((started, seconds))

    def between(self, start: float, end: float) -> Tally:
        """The requests started in [start, end] (time.monotonic())."""
        return Tally([o for o in self.ok if start <= o[0] <= end], [f for f in self.failed if start <= f[0] <= end])

    def ms(self, q: float) -> float:
        """The q-quantile of the successful requests' time, in ms (NaN if none succeeded)."""
        times = sorted(seconds for _, seconds in self.ok)
        return times[min(len(times) - 1, int(q * len(times)))] * 1000 if times else float("nan")

    def reasons(self) -> Counter:
        return Counter(reason for _, reason in self.failed)


class Failed(http.client.HTTPException):
    """An answer that counts as a failure: its message is the reason ("HTTP 503")."""


def _timeout(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return min(REQUEST_TIMEOUT, left)


@contextlib.contextmanager
def _counted(server, tally: Tally, deadline: float | None = None):
    """A new connection to `server` for the block, which counts as one request in `tally`:
    its wall time if the block completes, else the reason it failed. Every socket
    operation waits REQUEST_TIMEOUT at most, and none starts after `deadline`."""
    started = time.monotonic()
    deadline = deadline or started + REQUEST_TIMEOUT
    # Not connected yet: the block's first request connects, so a refused connection is
    # one of the block's failures.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=min(REQUEST_TIMEOUT, deadline - started))
    try:
        yield conn, started, deadline
        tally.add(started, time.monotonic() - started)
    except (OSError, http.client.HTTPException) as exc:
        tally.add(started, None, str(exc) if isinstance(exc, Failed) else failure_reason(exc))
    finally:
        conn.close()


def _pace(started: float, moved: int, rate: float, deadline: float) -> None:
    """Sleep until `moved` bytes are due at `rate` bytes/s since `started`."""
    wait = started + moved / rate - time.monotonic()
    if wait > 0:
        time.sleep(min(wait, max(0.0, deadline - time.monotonic())))


def _answer(conn: http.client.HTTPConnection, expect: int) -> http.client.HTTPResponse:
    response = conn.getresponse()
    response.read()
    if response.status != expect:
        raise Failed(f"HTTP {response.status}")
    return response


def _receive(response: http.client.HTTPResponse, view: memoryview) -> int:
    return response.readinto(view)


def slow_pull(server, repo: str, digest: str, size: int, rate: float, deadline: float, tally: Tally) -> None:
    """GET a blob, reading at `rate` bytes/s and hashing as it arrives; the transfer's wall
    time goes to `tally` if all `size` bytes came and match `digest`, else why not."""
    with _counted(server, tally, deadline) as (conn, started, deadline):
        conn.request("GET", f"/v2/{repo}/blobs/{digest}", headers=server.headers_for(repo))
        response = conn.getresponse()
        if response.status != 200:
            raise Failed(f"HTTP {response.status}")
        h, buffer, n = hashlib.sha256(), memoryview(bytearray(SLICE)), 0
        while True:
            _pace(started, n + SLICE, rate, deadline)
            conn.sock.settimeout(_timeout(deadline))
            got = _receive(response, buffer)
            if not got:
                break
            h.update(buffer[:got])
            n += got
        if n != size:
            raise Failed("short body")
        if "sha256:" + h.hexdigest() != digest:
            raise Failed("digest mismatch")


def _put_url(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def slow_push(server, repo: str, body: Iterable[bytes], size: int, digest: str, rate: float, deadline: float,
              tally: Tally) -> None:
    """POST an upload, then one PUT ?digest= with Content-Length sending the `size` bytes
    of `body` at `rate` bytes/s; the wall time of both goes to `tally` if the server
    answers 201."""
    with _counted(server, tally, deadline) as (conn, started, deadline):
        conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers=server.headers_for(repo))
        location = _answer(conn, 202).getheader("Location")
        conn.putrequest("PUT", _put_url(location, digest), skip_accept_encoding=True)
        for key, value in {**server.headers_for(repo), "Content-Type": "application/octet-stream",
                           "Content-Length": str(size)}.items():
            conn.putheader(key, value)
        conn.endheaders()
        sent = 0
        for chunk in body:
            for i in range(0, len(chunk), SLICE):
                piece = memoryview(chunk)[i:i + SLICE]
                _pace(started, sent + len(piece), rate, deadline)
                conn.sock.settimeout(_timeout(deadline))
                conn.sock.sendall(piece)
                sent += len(piece)
        conn.sock.settimeout(_timeout(deadline))
        _answer(conn, 201)


def manifest_head(server, repo: str, tally: Tally) -> None:
    """One HEAD by tag on a new connection (the prober's request)."""
    with _counted(server, tally) as (conn, _, _):
        conn.request("HEAD", f"/v2/{repo}/manifests/latest", headers={
            **server.headers_for(repo), "Accept": "application/vnd.oci.image.manifest.v1+json"})
        _answer(conn, 200)


def small_push(server, repo: str, blob: bytes, tally: Tally) -> None:
    """POST + monolithic PUT of a small blob on a new connection (the pusher's request)."""
    with _counted(server, tally) as (conn, _, _):
        conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers=server.headers_for(repo))
        location = _answer(conn, 202).getheader("Location")
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        conn.request("PUT", _put_url(location, digest), body=blob, headers={
            **server.headers_for(repo), "Content-Type": "application/octet-stream"})
        _answer(conn, 201)


class Every(threading.Thread):
    """Calls `fn(i)` every `interval` seconds, each call in a thread of its own so that a
    slow answer delays no later one, until stop(); stop() waits for the calls under way
    (each bounded by REQUEST_TIMEOUT)."""

    def __init__(self, interval: float, fn) -> None:
        super().__init__(daemon=True)
        self.interval, self.fn, self._done, self._calls = interval, fn, threading.Event(), []

    def run(self) -> None:
        start, i = time.monotonic(), 0
        while not self._done.is_set():
            call = threading.Thread(target=self.fn, args=(i,), daemon=True)
            call.start()
            self._calls.append(call)
            i += 1
            self._done.wait(max(0.0, start + i * self.interval - time.monotonic()))

    def stop(self) -> None:
        self._done.set()
        self.join()
        for call in self._calls:
            call.join()
