"""Blob GETs with blobs in S3 (moto's real server): streamed through us with Range, or a 307
to a presigned URL that serves the same bytes, ranges included."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from .support import sha256
from .test_blob_get import body

DATA = bytes(range(256)) * 4
DIGEST = sha256(DATA)
URL = f"/v2/library/app/blobs/{DIGEST}"


@pytest.fixture
def pushed(s3_storage, registry):
    registry.push_blob("library/app", DATA)
    return s3_storage


def _fetch(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_blob_is_streamed_from_the_bucket_with_ranges(client, pushed):
    assert body(client.get(URL)) == DATA
    response = client.get(URL, HTTP_RANGE="bytes=1000-")
    assert response.status_code == 206 and body(response) == DATA[1000:]
    assert response["Content-Range"] == f"bytes 1000-1023/{len(DATA)}"
    response = client.get(URL, HTTP_RANGE="bytes=10-19")
    assert body(response) == DATA[10:20] and response["Content-Length"] == "10"


def test_redirect_sends_the_client_to_the_bucket(client, pushed, settings, s3_server):
    settings.REGISTRY_S3_REDIRECT = True
    from storage_backends import get_storage

    get_storage.cache_clear()
    response = client.get(URL)
    assert response.status_code == 307 and response["Docker-Content-Digest"] == DIGEST
    location = response["Location"]
    assert location.startswith(s3_server.endpoint_url)
    assert _fetch(location) == (200, DATA)
    assert _fetch(location, {"Range": "bytes=100-199"}) == (206, DATA[100:200])
    # HEAD and conditional GETs are answered from the database, without a redirect.
    assert client.head(URL).status_code == 200
    assert client.get(URL, HTTP_IF_NONE_MATCH=f'"{DIGEST}"').status_code == 304


def test_x_accel_redirect_degrades_to_streaming_with_s3(client, pushed, settings):
    settings.REGISTRY_X_ACCEL_REDIRECT = "/_blobs/"
    response = client.get(URL)
    assert response.status_code == 200 and "X-Accel-Redirect" not in response and body(response) == DATA


def test_s3_misconfiguration_is_a_system_check_error(settings):
    from storage_backends.apps import check_s3_settings

    settings.REGISTRY_STORAGE_BACKEND = "storage_backends.s3.S3Storage"
    settings.REGISTRY_S3_BUCKET = ""
    settings.REGISTRY_S3_PART_SIZE = 1024
    errors = check_s3_settings()
    assert {e.id for e in errors} == {"storage_backends.E002"} and len(errors) == 2
    assert any("REGISTRY_S3_BUCKET" in e.msg for e in errors)


def test_x_accel_redirect_without_files_is_a_warning(settings):
    from storage_backends.apps import check_s3_settings

    settings.REGISTRY_STORAGE_BACKEND = "storage_backends.s3.S3Storage"
    settings.REGISTRY_S3_BUCKET = "b"
    settings.REGISTRY_X_ACCEL_REDIRECT = "/_blobs/"
    assert [m.id for m in check_s3_settings()] == ["storage_backends.W001"]
