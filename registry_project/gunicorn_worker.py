"""gunicorn's gthread worker, keeping a busy connection on its thread between requests.

gthread hands every kept-alive connection back to the worker's main loop after each
request: the main thread polls it, wakes, submits it to the pool, a pool thread wakes and
answers, and a pipe wakes the main thread again to register the socket once more. For a
client that sends its next request right away (a pull's HEAD, GET, GET…) that round of
wake-ups cost more than the manifest view itself: 1,110 manifest HEADs/s at
concurrency 1 through it, up to 1,680/s with the thread waiting here (A/B runs of
bench/workloads.py, 2 cores).

So the thread that answered waits LINGER_SECONDS for the next request on its connection,
as Go's net/http does for the connection's whole life, and answers it itself. It waits
only while another thread of the pool is idle, so a new connection never queues behind
a lingering thread for longer than that, and it gives the connection back to gunicorn's
loop (keep-alive timeout, graceful stop) whenever the client is quiet, the worker is
stopping, or the pool is full.

A GET's answer also leaves in one TCP segment when it fits: gunicorn writes the headers
and the body with two sends, and the client would wake for each (TCP_CORK holds partial
segments until the response is written; the kernel flushes them after 200 ms at most).
"""
from __future__ import annotations

import select
import socket
import threading

from gunicorn.workers.gthread import ThreadWorker

# Long enough for a client's next request on a connection it is using (a fraction of a
# millisecond over loopback, a few over a LAN), short enough that a request arriving
# when the pool's last idle thread has just been taken waits no longer than this.
LINGER_SECONDS = 0.005


class LingeringThreadWorker(ThreadWorker):
    """The gthread worker, with connections that stay on their thread while busy."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._busy = 0
        self._busy_lock = threading.Lock()

    def handle(self, conn):
        with self._busy_lock:
            self._busy += 1
        try:
            keepalive = super().handle(conn)
            while keepalive is True and self._next_request_came(conn):
                keepalive = super().handle(conn)
            return keepalive
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _next_request_came(self, conn) -> bool:
        """Whether the connection's next request is here, waiting LINGER_SECONDS for it
        while the worker runs and another thread of the pool is idle."""
        if not self.alive or conn.is_http2:
            return False
        if conn.parser.unreader.buf.getvalue():
            return True  # read ahead while the last body was drained
        if self._busy >= self.cfg.threads:
            return False
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        try:
            return bool(poller.poll(LINGER_SECONDS * 1000))
        except OSError:
            return False

    def handle_request(self, req, conn):
        if req.method != "GET":  # other answers are headers alone: one send already
            return super().handle_request(req, conn)
        _cork(conn.sock, True)
        try:
            return super().handle_request(req, conn)
        finally:
            _cork(conn.sock, False)


def _cork(sock, on: bool) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, int(on))
    except (OSError, AttributeError):
        pass  # a socket the client already closed; no TCP_CORK off Linux
