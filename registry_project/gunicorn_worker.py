"""The gunicorn worker: gevent's, so that a connection costs a socket and a greenlet.

A registry's clients are slow or idle as often as not: a rollout of 200 nodes pulling the
same layer over their own links, CI runners pushing over a VPN, docker daemons keeping
connections open, and anyone sending half a request. A thread per connection (gthread)
ran out at 24 of them. Here every connection is a greenlet of gevent's loop; requests
run the same Django code, which waits cooperatively on sockets, PostgreSQL (psycopg 3
supports gevent) and locks. deploy/gunicorn.conf.py says why gevent, with the figures.

What gunicorn's own gevent worker lacks: deadlines, zero-copy pulls, fair turns and no
database connection held for a waiting client (client_socket.ClientSocket); a password's
hash on gevent's thread pool (storage hands its file work over the same way,
storage_backends/offload.py); and new connections balanced over the workers.

A new connection goes to the worker holding the fewest (worker_balance.py, BalancedServer):
whichever worker woke first took it before, and a kept-alive connection never moves, so 16
clients split 12 to 4 as often as 8 to 8, and the crowded worker set the pace (manifest
HEADs at concurrency 16: 4,750/s at 4/12, 6,250/s at 7/9; p99 30.6 ms and 11.8 ms).

A GET's answer leaves in one TCP segment when it fits (TCP_CORK), and a large file goes out
uncorked. A body of declared length is read with `readinto()` straight from the socket
into the caller's buffer (LengthBody): gunicorn's own reader copies each MiB of a blob push
five or six times through BytesIO buffers.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
import time

import gevent
from gevent.server import StreamServer
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.wsgi import FileWrapper
from gunicorn.workers import ggevent
from gunicorn.workers.ggevent import GeventWorker

from .client_socket import ClientSocket, Deadlines, release_database_connections
from .worker_balance import LoadBoard

# A file answer at least this large goes out uncorked (uncorked_if_large_file); a smaller
# one, such as an image config blob, keeps its headers and body in one segment.
UNCORK_FILE_BYTES = 1 << 20
# Real threads in each worker's pool (gevent's default is 10), which takes storage's file
# work, password hashes and large sendfile() calls off the loop. Each thread that finishes a
# task wants the GIL back from the loop: with 10, 64 slow pushes at once delayed a probe by
# 20 ms or more several times a run, with 4 about once (bench/fleet.py's load 2, 5 rounds).
IO_THREADS = 4
# How long a worker holding more connections than another leaves a new one to it: the
# other, woken by the same connection, takes it in well under a millisecond unless busy.
ACCEPT_DEFER_SECONDS = 0.002


def password_hashing_off_the_loop() -> None:
    """Check passwords on gevent's pool of real threads: Django's PBKDF2 is ~0.3 s of CPU
    with the GIL released, and in the loop every other connection of the worker would wait
    that long on each sign-in. (Storage hands its own blocking file work over the same way,
    storage_backends/offload.py.) Called once in each worker, after gevent's patching:
    the storage package must not be imported before it."""
    from storage_backends.offload import off_the_loop

    blocking = hashlib.pbkdf2_hmac

    def pbkdf2_hmac(*args):
        return off_the_loop(blocking, *args)

    hashlib.pbkdf2_hmac = pbkdf2_hmac


def _margin(connections: int) -> int:
    """How many fewer a sibling must hold for a new connection to be left to it: one in
    a few (16 clients split no worse than 9 to 7), an eighth in a crowd, so that a burst
    of a thousand connections is accepted at full speed instead of pausing at each one
    (with a margin of one, a normal request waited 0.5 s behind such a burst)."""
    return max(1, connections // 8)


class BalancedServer(StreamServer):
    """gevent's server of a listening socket, which leaves a new connection to a sibling
    worker holding fewer (worker_balance.py) for ACCEPT_DEFER_SECONDS, and takes it after
    that if it is still waiting: a busy or stuck sibling never leaves one unanswered."""

    worker: "CheapConnectionWorker"  # set on each worker's own subclass
    _take_next_until = 0.0  # back from a pause: the next connection is this worker's

    def _do_read(self):
        if self._take_next_until >= time.monotonic():
            self._take_next_until = 0.0
        elif self.worker.board.fewer_elsewhere(self.worker.connections - _margin(self.worker.connections)):
            self.stop_accepting()
            self._timer = self.loop.timer(ACCEPT_DEFER_SECONDS)
            self._timer.start(self._pause_over)
            return
        super()._do_read()

    def do_read(self):
        """Accept one connection, as a ClientSocket from the start (gevent would make a
        socket object of its own, which the worker would only replace)."""
        try:
            fd, address = self.socket._accept()
        except BlockingIOError:
            return None
        return ClientSocket(self.socket.family, self.socket.type, self.socket.proto, fileno=fd), address

    def _pause_over(self):
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.close()
        self._take_next_until = time.monotonic() + ACCEPT_DEFER_SECONDS
        self._start_accepting_if_started()


class CheapConnectionWorker(GeventWorker):
    """gunicorn's gevent worker with ClientSocket's deadlines, zero-copy pulls and
    database connections handed back while a client is quiet."""

    # Made in the master, by the first worker object it builds (before that one forks).
    board: LoadBoard | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadlines = Deadlines(self.cfg.keepalive)
        self.idle: set[ClientSocket] = set()
        self.connections = 0
        if type(self).board is None:
            type(self).board = LoadBoard()

    def init_process(self):
        """Claim a slot on the board, and have gunicorn's gevent worker build its servers
        as BalancedServers (it names gevent's StreamServer as a module global)."""
        self.board.claim(self.age)
        ggevent.StreamServer = type("BalancedServer", (BalancedServer,), {"worker": self})
        super().init_process()

    def handle(self, listener, client, addr):
        client = ClientSocket.adopt(client, self.deadlines, self.idle)
        self.connections += 1
        self.board.publish(self.connections)
        try:
            super().handle(listener, client, addr)
        finally:
            self.connections -= 1
            self.board.publish(self.connections)
            self.idle.discard(client)
            release_database_connections()

    def notify(self):
        """The heartbeat, every second, which also keeps this worker's count fresh on the
        board. Once stopping, the worker leaves the board and lets idle connections go, so
        a graceful stop waits for running requests only, not for the keep-alive timeout."""
        super().notify()
        if self.alive:
            self.board.publish(self.connections)
            return
        self.board.release()
        for connection in list(self.idle):
            connection.let_go()

    def patch(self):
        super().patch()
        gevent.get_hub().threadpool.maxsize = IO_THREADS
        password_hashing_off_the_loop()

    def timeout_ctx(self):
        return contextlib.nullcontext()  # ClientSocket keeps the deadlines

    def handle_request(self, listener_name, req, sock, addr):
        sock.serving()
        corked = req.method == "GET"  # other answers are headers alone: one send already
        if corked:
            _cork(sock, True)
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            if corked:
                _cork(sock, False)
            sock.served()

    def load_wsgi(self):
        super().load_wsgi()
        urls_loaded()
        app = self.wsgi

        def on_this_worker(environ, start_response):
            """The app, reading a body of declared length with readinto() (LengthBody);
            a file answer goes out holding no database connection, and a large one
            uncorked (uncorked_if_large_file)."""
            body = environ.get("wsgi.input")
            if LengthBody.fits(body):
                environ["wsgi.input"] = LengthBody(body)
            answer = app(environ, start_response)
            if isinstance(answer, FileWrapper):
                release_database_connections()  # a pull's body may take minutes to go out
            return uncorked_if_large_file(environ, answer)

        self.wsgi = on_this_worker


def urls_loaded() -> None:
    """Import the URL configuration, and with it every view, before the worker takes its
    first connection: Django does it at the first request, which then waited, and every
    connection of the worker with it (a probe behind it took 46 to 90 ms)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the import is the point


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
