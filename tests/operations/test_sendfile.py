"""Blob pulls reach the server's wsgi.file_wrapper with a real file descriptor, positioned at
the range start: what gunicorn needs to answer with sendfile(2) instead of copying through
Python (deploy/gunicorn.conf.py keeps sendfile on; tests/e2e/test_http_wire.py checks the
bytes on the wire)."""
from __future__ import annotations

import os

import pytest
from django.test import RequestFactory

from storage_backends import get_storage
from tests.api.support import Registry
from tests.wsgi_call import call_application

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _open_registry(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.REGISTRY_AUTH_ENABLED = False
    get_storage.cache_clear()
    yield
    get_storage.cache_clear()


class RecordingFileWrapper:
    """Stands where gunicorn's FileWrapper (which calls sendfile on `filelike.fileno()`) stands."""

    seen: list = []

    def __init__(self, filelike, block_size: int = 8192) -> None:
        self.filelike = filelike
        self.block_size = block_size
        fd = filelike.fileno()
        self.file_size = os.fstat(fd).st_size
        self.offset = os.lseek(fd, 0, os.SEEK_CUR)
        RecordingFileWrapper.seen.append(self)

    def __iter__(self):
        return iter(lambda: self.filelike.read(self.block_size), b"")

    def close(self) -> None:
        self.filelike.close()


def _pull(path: str, **headers) -> tuple[str, dict, bytes]:
    environ = RequestFactory().get(path, **headers).environ
    environ["wsgi.file_wrapper"] = RecordingFileWrapper
    return call_application(environ)


def test_a_big_blob_goes_out_through_the_file_wrapper(client):
    data = os.urandom(8 * MIB + 3)
    digest = Registry(client).push_blob("team/big", data)
    RecordingFileWrapper.seen = []
    status, headers, body = _pull(f"/v2/team/big/blobs/{digest}")
    assert status.startswith("200") and body == data and headers["Content-Length"] == str(len(data))
    (wrapper,) = RecordingFileWrapper.seen
    assert wrapper.file_size == len(data) and wrapper.offset == 0

    RecordingFileWrapper.seen = []
    status, headers, body = _pull(f"/v2/team/big/blobs/{digest}", HTTP_RANGE=f"bytes={MIB}-{2 * MIB - 1}")
    assert status.startswith("206") and body == data[MIB:2 * MIB] and headers["Content-Length"] == str(MIB)
    (wrapper,) = RecordingFileWrapper.seen
    assert wrapper.offset == MIB  # sendfile starts here and sends Content-Length bytes
