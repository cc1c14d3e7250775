"""registry_project.gunicorn_worker.LengthBody: readinto() on gunicorn's own body of declared
length, over a real socket pair, and iter_body() reading through it."""
from __future__ import annotations

import socket
import threading

import pytest
from django.test import RequestFactory
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.unreader import SocketUnreader

from registry_api.edge.http import BodyError, iter_body
from registry_project.gunicorn_worker import LengthBody


@pytest.fixture
def pair():
    ours, peer = socket.socketpair()
    ours.settimeout(5)  # a reader that waits for bytes never sent fails instead of hanging
    yield ours, peer
    ours.close()
    peer.close()


def _body(sock, length: int, with_headers: bytes = b"") -> Body:
    """gunicorn's body as its parser leaves it: what came in after the headers is held by
    the unreader (`with_headers`), the rest is still on the socket."""
    unreader = SocketUnreader(sock)
    if with_headers:
        unreader.unread(with_headers)
    return Body(LengthReader(unreader, length))


def _read_all(body: LengthBody, size: int) -> bytes:
    out = bytearray()
    buffer = bytearray(size)
    while count := body.readinto(buffer):
        out += buffer[:count]
    return bytes(out)


def test_readinto_takes_what_came_with_the_headers_then_the_socket(pair):
    ours, peer = pair
    body = _body(ours, 10, with_headers=b"abcd")
    peer.sendall(b"efghij")
    assert LengthBody.fits(body)
    assert _read_all(LengthBody(body), 3) == b"abcdefghij"
    assert body.reader.length == 0 and not body.failed


def test_readinto_never_takes_the_next_pipelined_request(pair):
    ours, peer = pair
    body = _body(ours, 5, with_headers=b"12345GET / HTTP/1.1\r\n\r\n")
    wrapped = LengthBody(body)
    assert _read_all(wrapped, 64) == b"12345"
    assert body.reader.unreader.buf.getvalue() == b"GET / HTTP/1.1\r\n\r\n"
    peer.sendall(b"more")  # never read: past the body's end
    assert wrapped.readinto(bytearray(8)) == 0
    assert body.reader.unreader.sock.recv(16) == b"more"


def test_readinto_after_read_starts_where_read_stopped(pair):
    """Body.read() keeps read-ahead of its own; readinto() hands that on first."""
    ours, peer = pair
    data = bytes(range(200)) * 20
    peer.sendall(data)
    body = _body(ours, len(data))
    wrapped = LengthBody(body)
    assert wrapped.read(10) == data[:10]
    assert _read_all(wrapped, 333) == data[10:]


def test_a_peer_that_closes_early_ends_the_body_and_the_connection(pair):
    ours, peer = pair
    body = _body(ours, 100)
    peer.sendall(b"x" * 40)
    peer.shutdown(socket.SHUT_WR)
    assert _read_all(LengthBody(body), 64) == b"x" * 40
    assert body.failed  # gunicorn must not parse another request on this connection


def test_a_chunked_body_or_none_keeps_gunicorns_reader(pair):
    ours, _ = pair
    unreader = SocketUnreader(ours)
    assert not LengthBody.fits(Body(ChunkedReader(None, unreader)))
    assert not LengthBody.fits(_body(ours, 0))  # a HEAD or GET: nothing to receive
    assert not LengthBody.fits(b"not a body")


def _request(body, length: int):
    return RequestFactory().generic(
        "PUT", "/", CONTENT_LENGTH=str(length), **{"wsgi.input": body}
    )


def test_iter_body_receives_whole_chunks_into_one_buffer(pair):
    ours, peer = pair
    data = bytes(range(256)) * 1000  # 256,000 bytes, sent in small pieces by a slow peer
    body = _body(ours, len(data), with_headers=data[:100])

    def send():
        for start in range(100, len(data), 7000):
            peer.sendall(data[start:start + 7000])

    sender = threading.Thread(target=send)
    sender.start()
    request = _request(LengthBody(body), len(data))
    sizes, received, buffers = [], bytearray(), set()
    for chunk in iter_body(request, chunk_size=100_000):
        sizes.append(len(chunk))
        buffers.add(id(chunk.obj))
        received += chunk
    sender.join()
    assert sizes == [100_000, 100_000, 56_000]  # each filled whole before it is handed on
    assert bytes(received) == data
    assert len(buffers) == 1
    assert request.registry_bytes_in == len(data)


def test_iter_body_through_readinto_raises_when_the_body_is_short(pair):
    ours, peer = pair
    peer.sendall(b"y" * 30)
    peer.shutdown(socket.SHUT_WR)
    request = _request(LengthBody(_body(ours, 100)), 100)
    with pytest.raises(BodyError, match="70 bytes short"):
        for _ in iter_body(request):
            pass


def test_iter_body_through_readinto_raises_when_the_socket_fails(pair):
    ours, _ = pair
    ours.settimeout(0.05)  # nothing ever arrives
    request = _request(LengthBody(_body(ours, 10)), 10)
    with pytest.raises(BodyError):
        for _ in iter_body(request):
            pass
    assert request.META["wsgi.input"]._body.failed
