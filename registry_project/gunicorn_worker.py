"""The gunicorn worker: gevent's, so that a connection costs a socket and a greenlet.

A registry's clients are slow or idle as often as not: a rollout of 200 nodes pulling the
same layer over their own links, CI runners pushing over a VPN, docker daemons keeping
connections open, and anyone sending half a request. A thread per connection (gthread)
ran out at 24 of them. Here every connection is a greenlet of gevent's loop; requests
run the same Django code, which waits cooperatively on sockets, PostgreSQL (psycopg 3
supports gevent) and locks. deploy/gunicorn.conf.py says why gevent, with the figures.

What gunicorn's own gevent worker lacks, ClientSocket adds:
- deadlines: a request's headers must be complete REGISTRY_HEADER_TIMEOUT after its first
  byte (or after the accept), an idle kept-alive connection is closed after `keepalive`,
  and a transfer that makes no progress for REGISTRY_STALL_TIMEOUT is dropped. A client
  past a deadline is closed as if it had hung up, logged at debug, never as an error;
- zero-copy pulls: os.sendfile() on the non-blocking socket, waiting for it to drain in
  between (gevent's socket.sendfile copies through Python in 8 KiB pieces);
- fairness: a fast stream yields to the loop every YIELD_BYTES, so one push or pull at
  loopback speed does not hold the worker from everyone else, and a password's hash (and
  storage's file writes, storage_backends/offload.py) run on gevent's thread pool;
- no database connection held for a client: Django's connections are per greenlet, that
  is per client connection, and one hands its database connections back (to the worker's
  pool, settings.py) when the app has answered and whenever it must wait on its client:
  a thousand idle or slow clients hold none (2,000 idle ones held 300 MB of SQLite
  connections before).

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
import errno
import hashlib
import io
import logging
import os
import socket
import time

import gevent
from gevent import socket as gsocket
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.wsgi import FileWrapper
from gevent.server import StreamServer
from gunicorn.workers import ggevent
from gunicorn.workers.ggevent import GeventWorker

from .worker_balance import LoadBoard

logger = logging.getLogger("gunicorn.error")

# A file answer at least this large goes out uncorked (uncorked_if_large_file); a smaller
# one, such as an image config blob, keeps its headers and body in one segment.
UNCORK_FILE_BYTES = 1 << 20
# A stream that never has to wait (a client at loopback speed) lets the loop run the
# other connections after this many bytes.
YIELD_BYTES = 4 << 20
# os.sendfile() asked for at most this much at once, so that a fast pull yields too.
SENDFILE_BYTES = 8 << 20
# How long a worker holding more connections than another leaves a new one to it: the
# other, woken by the same connection, takes it in well under a millisecond unless busy.
ACCEPT_DEFER_SECONDS = 0.002


def _seconds(name: str, default: float) -> float:
    value = float(os.environ.get(name, default))
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return value


class Deadlines:
    """The limits a client must keep, from the environment (README, Configuration)."""

    def __init__(self, keepalive: float) -> None:
        self.header = _seconds("REGISTRY_HEADER_TIMEOUT", 20)
        self.stall = _seconds("REGISTRY_STALL_TIMEOUT", 60)
        self.keepalive = keepalive


class ClientSocket(gsocket.socket):
    """A client connection that keeps the deadlines of Deadlines (see the module docstring).

    The worker says where the connection is: waiting for a request's headers, or serving
    the request (reading its body, sending its answer), or idle after an answer."""

    deadlines: Deadlines
    idle: set  # the worker's connections waiting for a next request

    @classmethod
    def adopt(cls, sock, deadlines: Deadlines, idle: set) -> "ClientSocket":
        """`sock`, an accepted connection, as a ClientSocket (which it is already when
        BalancedServer accepted it) whose header deadline runs from now."""
        adopted = sock if isinstance(sock, cls) else cls(sock.family, sock.type, fileno=sock.detach())
        adopted.deadlines = deadlines
        adopted.idle = idle
        adopted._header_deadline = time.monotonic() + deadlines.header
        adopted._idle = False
        adopted._unyielded = 0
        return adopted

    def serving(self) -> None:
        """The request's headers are in: its body and answer are held to the stall timeout."""
        self._header_deadline = None
        self._idle = False

    def served(self) -> None:
        """The answer is out: the next request may take the keep-alive timeout to begin."""
        self._header_deadline = None
        self._idle = True
        self.idle.add(self)

    def let_go(self) -> None:
        """Close the connection while it waits for a request (the worker is stopping):
        its wait ends as if the client had hung up."""
        try:
            # The OS socket's own shutdown: gevent's would fail the waiting read with EBADF,
            # which gunicorn logs as an error; this one ends it with EOF.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # gone already

    def recv(self, *args):
        return self._received(super().recv, args, b"")

    def recv_into(self, *args):
        return self._received(super().recv_into, args, 0)

    def _received(self, receive, args, nothing):
        if self._idle:
            return self._first_of_request(receive, args, nothing)
        if self._header_deadline is not None:
            left = self._header_deadline - time.monotonic()
            if left <= 0:
                return self._expired("its headers were not complete", nothing)
            self.settimeout(left)
            try:
                result = receive(*args)
            except socket.timeout:
                return self._expired("its headers were not complete", nothing)
        else:
            try:
                result = self._without_waiting(receive, args)
            except socket.timeout:
                return self._expired("it sent nothing more", nothing)
        self._count(result if isinstance(result, int) else len(result))
        return result

    def _without_waiting(self, receive, args):
        """`receive` at once if the client's bytes are there; if not, the database
        connections go back before waiting up to the stall timeout."""
        self.settimeout(0.0)
        try:
            return receive(*args)
        except BlockingIOError:
            release_database_connections()
        finally:
            self.settimeout(self.deadlines.stall)
        return receive(*args)

    def _first_of_request(self, receive, args, nothing):
        """The next request's first bytes, waited for up to the keep-alive timeout holding
        no database connection; from them on, the headers' deadline runs."""
        self.settimeout(0.0)
        try:
            result = receive(*args)
            gevent.sleep(0)  # it came while this one was served: the others' turn first
        except BlockingIOError:
            release_database_connections()
            self.settimeout(self.deadlines.keepalive)
            try:
                result = receive(*args)
            except socket.timeout:
                logger.debug("closing an idle kept-alive connection")
                return nothing
        self.idle.discard(self)
        self._idle = False
        self._header_deadline = time.monotonic() + self.deadlines.header
        return result

    def _expired(self, what: str, nothing):
        logger.debug("closing a connection: %s in time", what)
        self._header_deadline = None
        return nothing  # as if the client had hung up: gunicorn closes quietly

    def _count(self, size: int) -> None:
        self._unyielded += size
        if self._unyielded >= YIELD_BYTES:
            self._unyielded = 0
            gevent.sleep(0)

    def sendall(self, data, flags=0):
        self.settimeout(self.deadlines.stall)
        try:
            return super().sendall(data, flags)
        except socket.timeout:
            raise _stopped_reading() from None

    def sendfile(self, file, offset=0, count=None):
        """os.sendfile() from the page cache, waiting cooperatively while the socket is full."""
        sent = 0
        source, target = file.fileno(), self.fileno()
        while count is None or sent < count:
            want = SENDFILE_BYTES if count is None else min(SENDFILE_BYTES, count - sent)
            try:
                done = os.sendfile(target, source, offset + sent, want)
            except BlockingIOError:
                release_database_connections()
                try:
                    gsocket.wait_write(target, timeout=self.deadlines.stall)
                except socket.timeout:
                    raise _stopped_reading() from None
                continue
            if not done:
                break  # the file ended
            sent += done
            self._count(done)
        if hasattr(file, "seek"):
            file.seek(offset + sent)  # where socket.sendfile() leaves it
        return sent


def _stopped_reading() -> BrokenPipeError:
    """A client that read nothing for the stall timeout is dropped as a broken pipe, which
    gunicorn closes quietly (a hung-up client is no server error)."""
    return BrokenPipeError(errno.EPIPE, "the client stopped reading")


def release_database_connections() -> None:
    """Hand this greenlet's database connections back (outside a transaction): to the
    worker's pool, where settings.py sets one up. Django takes one again when needed."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


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
