"""A gevent worker's client connection: its deadlines, zero-copy pulls, fair turns, and no
database connection held while the client is waited on (registry_project/gunicorn_worker.py
says why the worker is gevent's).

- Deadlines: a request's headers must be complete REGISTRY_HEADER_TIMEOUT after its first
  byte (or after the accept), an idle kept-alive connection is closed after `keepalive`,
  and a transfer that makes no progress for REGISTRY_STALL_TIMEOUT is dropped. A client
  past a deadline is closed as if it had hung up, logged at debug, never as an error.
- Zero-copy pulls: os.sendfile() on the non-blocking socket, waiting for it to drain in
  between (gevent's socket.sendfile copies through Python in 8 KiB pieces).
- Fair turns: a fast stream yields to the loop every YIELD_BYTES, so one push or pull at
  loopback speed does not hold the worker from everyone else, and a request already
  waiting on a kept-alive connection lets the others go first (without that, the p99 of
  manifest HEADs at concurrency 16 doubled, to 20-28 ms).
- Django's database connections are per greenlet, that is per client connection: one
  hands them back (to the worker's pool, settings.py) whenever it must wait on its
  client, so a thousand idle or slow clients hold none (2,000 idle ones held 300 MB of
  SQLite connections before).
"""
from __future__ import annotations

import errno
import logging
import os
import socket
import time

import gevent
from gevent import socket as gsocket

logger = logging.getLogger("gunicorn.error")

# A stream that never has to wait (a client at loopback speed) lets the loop run the
# other connections after this many bytes.
YIELD_BYTES = 4 << 20
# os.sendfile() asked for at most this much at once, so that a fast pull yields too.
SENDFILE_BYTES = 8 << 20
# A sendfile() call that moved this much says the client drains at the kernel's speed: the
# next calls run on the worker's thread pool (ClientSocket.sendfile).
POOL_SENDFILE_BYTES = 1 << 20


def _seconds(name: str, default: float) -> float:
    value = float(os.environ.get(name, default))
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return value


class Deadlines:
    """The limits a client must keep, from the environment (docs/configuration.md)."""

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
        """os.sendfile() from the page cache, waiting cooperatively while the socket is full.

        Once a call has moved POOL_SENDFILE_BYTES, the client drains as fast as the kernel
        copies, and the next calls run on the worker's thread pool: the copy then leaves the
        loop free, and two streams of one worker copy on both cores at once (4 parallel pulls
        of 512 MiB: 4,128 MiB/s against 3,814 in the loop, medians of 5 alternate rounds).
        A slow client's calls, a few hundred KiB each, stay in the loop."""
        sent, pooled = 0, False
        source, target = file.fileno(), self.fileno()
        while count is None or sent < count:
            want = SENDFILE_BYTES if count is None else min(SENDFILE_BYTES, count - sent)
            try:
                if pooled:
                    # Imported here: the storage package must not load before gevent patches.
                    from storage_backends.offload import off_the_loop

                    done = off_the_loop(os.sendfile, target, source, offset + sent, want)
                else:
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
            pooled = done >= POOL_SENDFILE_BYTES
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
