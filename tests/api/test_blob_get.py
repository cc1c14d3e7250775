"""GET / HEAD /v2/<name>/blobs/<digest>: whole bodies, ranges, conditional requests, 404s."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from registry_api.models import RepositoryBlob

from .support import assert_error, sha256

DATA = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable
DIGEST = sha256(DATA)
URL = f"/v2/library/app/blobs/{DIGEST}"


def body(response) -> bytes:
    # The test client closes a streamed response once its content is consumed (with the
    # database connection kept); closing it again would drop the connection mid-test.
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def pushed(registry):
    registry.push_blob("library/app", DATA)


def test_get_returns_the_whole_blob_with_its_digest(client, pushed):
    response = client.get(URL)
    assert response.status_code == 200
    assert body(response) == DATA
    assert response["Docker-Content-Digest"] == DIGEST
    assert response["Content-Length"] == str(len(DATA))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{DIGEST}"'


def test_head_has_size_and_digest_and_no_body(client, pushed):
    response = client.head(URL)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert response["Docker-Content-Digest"] == DIGEST
    assert body(response) == b""


@pytest.mark.parametrize(
    "header, start, end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=100-199", 100, 199),
        ("bytes=1000-", 1000, 1023),
        ("bytes=1000-5000", 1000, 1023),  # an end past the blob is clipped
        ("bytes=1023-1023", 1023, 1023),
    ],
)
def test_range_returns_206_with_content_range(client, pushed, header, start, end):
    response = client.get(URL, headers={"Range": header})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert body(response) == DATA[start : end + 1]
    assert response["Docker-Content-Digest"] == DIGEST


@pytest.mark.parametrize("suffix", [1, 10, 1023, 1024])
def test_suffix_range_returns_the_last_bytes(client, pushed, suffix):
    response = client.get(URL, headers={"Range": f"bytes=-{suffix}"})
    assert response.status_code == 206
    start = len(DATA) - suffix
    assert response["Content-Range"] == f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"
    assert body(response) == DATA[start:]


def test_suffix_range_longer_than_the_blob_returns_it_all(client, pushed):
    response = client.get(URL, headers={"Range": "bytes=-5000"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-1023/{len(DATA)}"
    assert body(response) == DATA


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416_with_the_size(client, pushed, header):
    response = client.get(URL, headers={"Range": header})
    assert_error(response, 416, "SIZE_INVALID")
    assert response["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["items=0-10", "bytes=0-1,5-6", "bytes=abc", "bytes=20-10"])
def test_range_that_cannot_be_parsed_is_ignored(client, pushed, header):
    response = client.get(URL, headers={"Range": header})
    assert response.status_code == 200
    assert body(response) == DATA


def test_if_none_match_with_the_digest_is_304(client, pushed):
    response = client.get(URL, headers={"If-None-Match": f'"{DIGEST}"'})
    assert response.status_code == 304
    assert body(response) == b""
    assert response["ETag"] == f'"{DIGEST}"'


def test_head_honours_if_none_match(client, pushed):
    response = client.head(URL, headers={"If-None-Match": f'"{DIGEST}"'})
    assert response.status_code == 304


def test_if_none_match_with_another_etag_returns_the_blob(client, pushed):
    other = sha256(b"other")
    response = client.get(URL, headers={"If-None-Match": f'"{other}"'})
    assert response.status_code == 200
    assert body(response) == DATA


def test_unknown_blob_is_404_blob_unknown(client, pushed):
    missing = sha256(b"never pushed")
    assert_error(client.get(f"/v2/library/app/blobs/{missing}"), 404, "BLOB_UNKNOWN")


def test_head_on_unknown_blob_is_404_without_body(client, pushed):
    response = client.head(f"/v2/library/app/blobs/{sha256(b'never pushed')}")
    assert response.status_code == 404


def test_blob_is_not_visible_in_a_repository_it_was_not_pushed_to(client, registry, pushed):
    registry.push_blob("library/other", b"something else")
    assert_error(client.get(f"/v2/library/other/blobs/{DIGEST}"), 404, "BLOB_UNKNOWN")
    assert client.head(f"/v2/library/other/blobs/{DIGEST}").status_code == 404


def test_blob_in_unknown_repository_is_name_unknown(client, pushed):
    assert_error(client.get(f"/v2/library/nowhere/blobs/{DIGEST}"), 404, "NAME_UNKNOWN")


def test_empty_blob_is_served_with_length_zero(client, registry):
    digest = registry.push_blob("library/app", b"")
    response = client.get(f"/v2/library/app/blobs/{digest}")
    assert response.status_code == 200
    assert response["Content-Length"] == "0"
    assert body(response) == b""


def test_suffix_range_of_an_empty_blob_returns_it_whole(client, registry):
    digest = registry.push_blob("library/app", b"")
    response = client.get(f"/v2/library/app/blobs/{digest}", headers={"Range": "bytes=-5"})
    assert response.status_code == 200
    assert body(response) == b""
    response = client.get(f"/v2/library/app/blobs/{digest}", headers={"Range": "bytes=0-"})
    assert_error(response, 416, "SIZE_INVALID")
    assert response["Content-Range"] == "bytes */0"


def test_blob_larger_than_one_read_block_streams_whole(client, registry):
    data = bytes(range(251)) * 5000  # ~1.2 MiB, more than one 1 MiB block
    digest = registry.push_blob("library/app", data)
    response = client.get(f"/v2/library/app/blobs/{digest}")
    assert body(response) == data
    response = client.get(f"/v2/library/app/blobs/{digest}", headers={"Range": "bytes=1048570-1048580"})
    assert response.status_code == 206
    assert body(response) == data[1048570:1048581]


def _link_age(hours: float) -> None:
    RepositoryBlob.objects.update(created_at=timezone.now() - timedelta(hours=hours))


@pytest.mark.parametrize("method", ["head", "get"])
def test_looking_at_an_old_blob_restarts_its_links_grace_period(client, pushed, settings, method):
    """A client that may push HEADs a layer, skips uploading it and pushes the manifest:
    garbage collection must not unlink the layer in between (services/blobs.py)."""
    settings.REGISTRY_GC_GRACE_PERIOD = 3600
    _link_age(2)
    assert getattr(client, method)(URL).status_code == 200
    assert RepositoryBlob.objects.get().created_at > timezone.now() - timedelta(minutes=1)


def test_a_link_younger_than_half_the_grace_period_is_not_written(client, pushed, settings):
    settings.REGISTRY_GC_GRACE_PERIOD = 3600
    _link_age(0.4)
    before = RepositoryBlob.objects.get().created_at
    assert client.head(URL).status_code == 200
    assert RepositoryBlob.objects.get().created_at == before
