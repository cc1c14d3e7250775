"""registry_project.gunicorn_worker.uncorked_if_large_file: a GET corked for one segment is
uncorked before a large file goes out through sendfile(), and only then."""
from __future__ import annotations

import io
import socket

import pytest
from gunicorn.http.wsgi import FileWrapper

from registry_project.gunicorn_worker import UNCORK_FILE_BYTES, uncorked_if_large_file


@pytest.fixture
def corked():
    """The server's end of a real loopback TCP connection, corked as a GET's is."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    yield server
    server.close()
    client.close()


def _is_corked(sock) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK))


def _answer(sock, answer):
    environ = {"gunicorn.socket": sock, "wsgi.file_wrapper": FileWrapper}
    assert uncorked_if_large_file(environ, answer) is answer


def test_a_large_file_goes_out_uncorked(corked, tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"\0" * UNCORK_FILE_BYTES)
    with blob.open("rb") as f:
        _answer(corked, FileWrapper(f))
    assert not _is_corked(corked)


@pytest.mark.parametrize("kind", ["config blob", "no file under it", "manifest"])
def test_other_answers_stay_corked(corked, tmp_path, kind):
    small = tmp_path / "config"
    small.write_bytes(b"x" * (UNCORK_FILE_BYTES - 1))
    with small.open("rb") as f:
        answer = {
            "config blob": FileWrapper(f),  # small: headers and body in one segment
            "no file under it": FileWrapper(io.BytesIO(b"x" * UNCORK_FILE_BYTES)),
            "manifest": [b"{}"],
        }[kind]
        _answer(corked, answer)
    assert _is_corked(corked)


def test_a_socket_already_gone_is_no_error(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"\0" * UNCORK_FILE_BYTES)
    gone = socket.socket()
    gone.close()
    with blob.open("rb") as f:
        _answer(gone, FileWrapper(f))
