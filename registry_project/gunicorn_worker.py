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
A large file goes out uncorked: under sendfile() the cork only costs CPU.

A body of declared length can be read with `readinto()` straight from the socket into the
caller's buffer (`wsgi.input` is wrapped in LengthBody): gunicorn's own reader copies each
MiB of a blob push five or six times through BytesIO buffers, and every one of those
allocations is memory glibc keeps once eight pushes have needed it at the same time.

A new connection goes to the worker holding the fewest (worker_balance.py): the others
leave it to that one for ACCEPT_DEFER_SECONDS. Whichever worker woke first used to take
it, and a kept-alive connection never moves: 16 clients could split 13 to 3.
"""
from __future__ import annotations

import io
import os
import select
import socket
import threading
import time

from gunicorn.http.body import Body, LengthReader
from gunicorn.http.wsgi import FileWrapper
from gunicorn.workers.gthread import ThreadWorker

from .worker_balance import LoadBoard

# Long enough for a client's next request on a connection it is using (a fraction of a
# millisecond over loopback, a few over a LAN), short enough that a request arriving
# when the pool's last idle thread has just been taken waits no longer than this.
LINGER_SECONDS = 0.005
# How long a worker holding more connections than another leaves a new one to it: the
# other, woken by the same connection, takes it in well under a millisecond unless busy.
ACCEPT_DEFER_SECONDS = 0.002
# A file answer at least this large goes out uncorked (uncorked_if_large_file); a smaller
# one, such as an image config blob, keeps its headers and body in one segment.
UNCORK_FILE_BYTES = 1 << 20


class LingeringThreadWorker(ThreadWorker):
    """The gthread worker, with connections that stay on their thread while busy, and new
    connections going to the worker holding the fewest (worker_balance.py)."""

    # Made in the master, by the first worker object it builds (before that one forks).
    board: LoadBoard | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._busy = 0
        self._busy_lock = threading.Lock()
        if type(self).board is None:
            type(self).board = LoadBoard()
        self._paused_until = 0.0  # accepting again from then
        self._take_next_until = 0.0  # back from a pause: the next connection is ours

    def init_process(self):
        self.board.claim(self.age)
        super().init_process()

    def accept(self, listener):
        """gunicorn's accept, unless another worker holds fewer connections: then this one
        stops accepting for ACCEPT_DEFER_SECONDS, and takes the connection after that if it
        is still waiting (a busy or stuck worker never leaves one unanswered)."""
        now = time.monotonic()
        if self._take_next_until >= now:
            self._take_next_until = 0.0
        elif self.board.fewer_elsewhere(self.nr_conns):
            self._paused_until = now + ACCEPT_DEFER_SECONDS
            self.set_accept_enabled(False)
            return
        super().accept(listener)  # the count is published at the loop's next turn

    def set_accept_enabled(self, enabled):
        if enabled and self._paused_until:
            now = time.monotonic()
            if now < self._paused_until:
                enabled = False
            else:
                self._paused_until, self._take_next_until = 0.0, now + ACCEPT_DEFER_SECONDS
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout):
        """gunicorn's loop step, which publishes this worker's count first (closed
        connections included) and wakes when a pause ends."""
        if self.alive:
            self.board.publish(self.nr_conns)
        else:
            self.board.release()  # stopping: it accepts nothing more
        if self._paused_until:
            timeout = min(timeout, max(0.0, self._paused_until - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)

    def load_wsgi(self):
        super().load_wsgi()
        app = self.wsgi

        def on_this_worker(environ, start_response):
            """The app, reading a body of declared length with readinto() (LengthBody) and
            answering a large file uncorked (uncorked_if_large_file)."""
            body = environ.get("wsgi.input")
            if LengthBody.fits(body):
                environ["wsgi.input"] = LengthBody(body)
            return uncorked_if_large_file(environ, app(environ, start_response))

        self.wsgi = on_this_worker

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


def uncorked_if_large_file(environ, answer):
    """Lift the GET's cork before gunicorn sends a file of UNCORK_FILE_BYTES or more.

    Corking saves a small answer a second segment; under a large sendfile() it only costs:
    serving a 1 GiB blob (12 alternate rounds), the server spent 0.386 ms of CPU per MiB
    corked and 0.22 uncorked, at 2,328 and 2,864 MiB/s (medians)."""
    if isinstance(answer, FileWrapper) and _file_size(answer) >= UNCORK_FILE_BYTES:
        _cork(environ.get("gunicorn.socket"), False)
    return answer


def _file_size(answer) -> int:
    try:
        return os.fstat(answer.filelike.fileno()).st_size
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return 0  # not a real file: gunicorn writes it piece by piece, corked


def _cork(sock, on: bool) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, int(on))
    except (OSError, AttributeError):
        pass  # a socket the client already closed; no TCP_CORK off Linux


class LengthBody:
    """gunicorn's request body of declared length, with `readinto()` from the socket.

    read() and readline() are gunicorn's own. readinto() takes what gunicorn's reader
    holds already (the bytes that came with the headers) and then receives into the
    caller's buffer, never past the declared length, and keeps gunicorn's count of what
    is left so the connection's next request is parsed where it starts.
    """

    def __init__(self, body: Body) -> None:
        self._body = body
        self._reader = body.reader
        self._unreader = body.reader.unreader
        self.read = body.read
        self.readline = body.readline
        self.readlines = body.readlines

    @staticmethod
    def fits(body) -> bool:
        """Whether `body` is gunicorn's, of declared non-zero length, read from a socket,
        with the attributes readinto() works on (a gunicorn that changed them keeps its own
        body). Requests without a body (every manifest HEAD and GET) are not wrapped."""
        if type(body) is not Body or type(body.reader) is not LengthReader:
            return False
        length = getattr(body.reader, "length", None)
        unreader = getattr(body.reader, "unreader", None)
        return (
            type(length) is int and length > 0
            and isinstance(getattr(unreader, "sock", None), socket.socket)
            and isinstance(getattr(unreader, "buf", None), io.BytesIO)
            and isinstance(getattr(body, "buf", None), io.BytesIO)
        )

    def __iter__(self):
        return iter(self._body)

    def readinto(self, buffer) -> int:
        """Fill up to len(buffer) bytes of the body; 0 at its end (or the peer's)."""
        body, reader, unreader = self._body, self._reader, self._unreader
        view = memoryview(buffer).cast("B")
        if body.buf.getbuffer().nbytes:  # left over by a read() before: already counted
            return _take(body, view)
        view = view[: reader.length]
        if not view or body.failed:
            return 0
        try:
            if unreader.buf.getbuffer().nbytes:  # came in with the headers
                count = _take(unreader, view)
            else:
                count = unreader.sock.recv_into(view)
        except Exception:
            body.failed = True  # where the next request starts is unknown now
            raise
        if not count:
            body.failed = True  # the peer closed before the body's end
        reader.length -= count
        return count


def _take(holder, view: memoryview) -> int:
    """Move the first bytes of `holder.buf` (a BytesIO gunicorn appends to) into `view`."""
    held = holder.buf.getvalue()
    count = min(len(held), len(view))
    view[:count] = held[:count]
    holder.buf = io.BytesIO()
    holder.buf.write(held[count:])
    return count
