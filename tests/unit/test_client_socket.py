"""registry_project.client_socket.ClientSocket on real loopback sockets under gevent's
loop: pulls go out with os.sendfile() however slowly they are read, and each deadline
closes a connection as if its client had hung up."""
from __future__ import annotations

import os
import socket
import threading
import time

import gevent
import pytest
from gevent import socket as gsocket

from registry_project import client_socket
from registry_project.client_socket import ClientSocket, Deadlines

MIB = 1024 * 1024


@pytest.fixture
def deadlines(monkeypatch):
    monkeypatch.setenv("REGISTRY_HEADER_TIMEOUT", "0.5")
    monkeypatch.setenv("REGISTRY_STALL_TIMEOUT", "0.5")
    return Deadlines(keepalive=1.0)


@pytest.fixture
def pair(deadlines):
    """(server side as a ClientSocket, client side), connected over loopback TCP."""
    with gsocket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = gsocket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
    idle: set = set()
    server = ClientSocket.adopt(accepted, deadlines, idle)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    yield server, client
    server.close()
    client.close()


def test_a_slowly_read_file_goes_out_through_sendfile_whole(pair, tmp_path, monkeypatch):
    server, client = pair
    data = os.urandom(12 * MIB + 5)
    path = tmp_path / "blob"
    path.write_bytes(data)
    calls = []
    real = os.sendfile
    monkeypatch.setattr(client_socket.os, "sendfile", lambda *a: calls.append(a) or real(*a))

    def read_slowly():
        received = bytearray()
        while len(received) < len(data) - 100:
            chunk = client.recv(MIB)
            if not chunk:
                break
            received += chunk
            gevent.sleep(0.001)
        return bytes(received)

    reader = gevent.spawn(read_slowly)
    with path.open("rb") as f:
        sent = server.sendfile(f, offset=100, count=len(data) - 100)
        assert f.tell() == len(data)  # left where socket.sendfile() leaves it
    assert sent == len(data) - 100
    assert reader.get(timeout=30) == data[100:]
    assert len(calls) > 2  # it waited for the socket to drain, and sent again


def test_a_file_nobody_reads_is_dropped_at_the_stall_deadline(pair, tmp_path):
    server, _ = pair
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(8 * MIB))
    began = time.monotonic()
    with path.open("rb") as f, pytest.raises(BrokenPipeError):
        server.sendfile(f, count=8 * MIB)
    assert 0.4 < time.monotonic() - began < 10


def test_a_stalled_answer_is_dropped_as_a_broken_pipe(pair):
    server, _ = pair
    server.serving()
    with pytest.raises(BrokenPipeError):
        server.sendall(b"x" * (8 * MIB))


def test_headers_must_be_complete_by_the_deadline(pair):
    """A new connection: the header deadline runs from the accept, whatever trickles in."""
    server, client = pair
    client.sendall(b"GET /v2/ HTTP/1.1\r\n")
    assert server.recv(100) == b"GET /v2/ HTTP/1.1\r\n"
    began = time.monotonic()
    assert server.recv(100) == b""  # as if the client had hung up
    assert time.monotonic() - began < 5
    assert server.recv(100) == b""  # and for good


def test_a_body_that_stops_coming_ends_at_the_stall_deadline(pair):
    server, client = pair
    server.serving()
    client.sendall(b"part of a body")
    buffer = bytearray(100)
    assert server.recv_into(buffer) == 14
    began = time.monotonic()
    assert server.recv_into(buffer) == 0
    assert 0.4 < time.monotonic() - began < 5


def test_an_idle_connection_waits_for_keepalive_then_its_next_headers(pair):
    server, client = pair
    server.served()
    assert server in server.idle
    gevent.spawn_later(0.7, client.sendall, b"HEAD /v2/ HTTP/1.1\r\n")  # past the header deadline
    assert server.recv(100) == b"HEAD /v2/ HTTP/1.1\r\n"
    assert server not in server.idle
    began = time.monotonic()
    assert server.recv(100) == b""  # the rest of the headers did not follow in time
    assert time.monotonic() - began < 5


def test_an_idle_connection_is_closed_after_keepalive(pair):
    server, _ = pair
    server.served()
    began = time.monotonic()
    assert server.recv(100) == b""
    assert 0.9 < time.monotonic() - began < 5


def test_letting_go_ends_an_idle_wait_at_once(pair):
    server, _ = pair
    server.served()
    gevent.spawn_later(0.1, server.let_go)
    began = time.monotonic()
    assert server.recv(100) == b""
    assert time.monotonic() - began < 0.9  # before keepalive


def test_a_fast_stream_lets_others_run(deadlines, monkeypatch):
    """A client whose data is always there: the reader yields to the loop every
    YIELD_BYTES all the same, or it would keep every other connection waiting."""
    yields = []
    monkeypatch.setattr(client_socket.gevent, "sleep", lambda seconds=0: yields.append(seconds))
    total = 8 * client_socket.YIELD_BYTES
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())  # a plain, blocking socket
        accepted, _ = listener.accept()
    server = ClientSocket.adopt(accepted, deadlines, set())
    server.serving()
    sender = threading.Thread(target=client.sendall, args=(bytes(total),))
    sender.start()
    try:
        buffer = bytearray(MIB)
        received = 0
        while received < total:
            count = server.recv_into(buffer)
            assert count, "the stream ended early"
            received += count
    finally:
        sender.join()
        client.close()
        server.close()
    assert len(yields) >= 7 and set(yields) == {0}


def test_settings_must_be_positive(monkeypatch):
    monkeypatch.setenv("REGISTRY_HEADER_TIMEOUT", "0")
    with pytest.raises(ValueError, match="REGISTRY_HEADER_TIMEOUT"):
        Deadlines(keepalive=75)
