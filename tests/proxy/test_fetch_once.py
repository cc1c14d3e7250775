"""One upstream fetch per blob however many pull it at once: the ProxyFetch row, following
another request's fetch, taking over a dead one, finishing when the client leaves.
(tests/e2e/test_proxy.py races real clients against gunicorn workers.)"""
from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from registry_api.models import Blob, ProxyFetch, Upload
from registry_api.proxy.blobs import BlobStreamBroken, _follow_chunks
from registry_api.services.uploads import upload_start
from storage_backends import get_storage
from tests import builders

from .conftest import body, hang_up

BIG = os.urandom(3 * 1024 * 1024 + 17)
BIG_DIGEST = builders.sha256(BIG)


@pytest.fixture
def big(upstream):
    upstream.blobs[BIG_DIGEST] = BIG
    return BIG_DIGEST


def test_a_pull_during_a_fetch_follows_it_instead_of_fetching_again(client, hub, big, upstream):
    first = client.get(f"/v2/hub/big/blobs/{big}")
    assert ProxyFetch.objects.filter(digest=big).exists()
    second = client.get(f"/v2/hub/big/blobs/{big}")
    assert second.streaming and second["Content-Length"] == str(len(BIG))
    assert body(first) == BIG
    assert not ProxyFetch.objects.exists() and Blob.objects.filter(digest=big).exists()
    assert body(second) == BIG
    assert upstream.count("GET", "/blobs/") == 1


def test_the_fetch_goes_on_when_its_client_leaves(client, hub, big, upstream):
    response = client.get(f"/v2/hub/big/blobs/{big}")
    chunks = iter(response.streaming_content)
    assert len(next(chunks)) > 0
    hang_up(response)  # what the server does when the client hangs up
    assert Blob.objects.filter(digest=big).exists() and not ProxyFetch.objects.exists()
    assert not Upload.objects.exists()
    assert body(client.get(f"/v2/hub/big/blobs/{big}")) == BIG
    assert upstream.count("GET", "/blobs/") == 1


def test_a_fetch_gone_quiet_is_taken_over(client, hub, big, upstream, settings):
    settings.REGISTRY_PROXY_FETCH_STALE = 15
    dead = upload_start(repository_name="hub/library/big")
    ProxyFetch.objects.create(digest=big, upload=dead, size=len(BIG), heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert body(client.get(f"/v2/hub/big/blobs/{big}")) == BIG
    assert not Upload.objects.filter(pk=dead.pk).exists()
    assert get_storage().stat(big).size == len(BIG)


def test_a_fetch_ended_before_the_claim_is_served_from_the_cache(client, hub, big, upstream, monkeypatch):
    """The race: miss, then the other fetch commits, then our claim succeeds."""
    from registry_api.proxy import blobs

    body(client.get(f"/v2/hub/big/blobs/{big}"))
    real = blobs.proxy_blob_cached
    calls = []

    def miss_once(**kwargs):
        calls.append(1)
        return None if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(blobs, "proxy_blob_cached", miss_once)
    assert body(client.get(f"/v2/hub/big/blobs/{big}")) == BIG
    assert upstream.count("GET", "/blobs/") == 1 and not ProxyFetch.objects.exists()


def _staged(data: bytes) -> tuple[Upload, ProxyFetch]:
    upload = upload_start(repository_name="hub/library/big")
    writer = get_storage().resume_upload(str(upload.id))
    writer.write(data)
    writer.close()
    fetch = ProxyFetch.objects.create(digest=BIG_DIGEST, upload=upload, size=len(BIG), heartbeat_at=timezone.now())
    return upload, fetch


def test_a_follower_reads_the_staged_bytes_as_they_grow(hub):
    upload, fetch = _staged(BIG[:1000])

    def write_the_rest():
        writer = get_storage().resume_upload(str(upload.id))
        for start in range(1000, len(BIG), 500_000):
            time.sleep(0.05)
            writer.write(BIG[start:start + 500_000])
        writer.close()

    writer_thread = threading.Thread(target=write_the_rest)
    writer_thread.start()
    stream = get_storage().open_upload(str(upload.id))
    assert b"".join(_follow_chunks(stream, BIG_DIGEST, len(BIG), fetch.pk)) == BIG
    writer_thread.join()


def test_a_follower_breaks_off_when_the_fetch_fails(hub):
    upload, fetch = _staged(BIG[:1000])
    stream = get_storage().open_upload(str(upload.id))
    fetch.delete()  # the fetcher gave up: its session and row are gone
    with pytest.raises(BlobStreamBroken, match="ended short"):
        b"".join(_follow_chunks(stream, BIG_DIGEST, len(BIG), fetch.pk))


def test_a_follower_never_completes_wrong_bytes(hub):
    wrong = bytes(len(BIG))
    upload, fetch = _staged(wrong)
    stream = get_storage().open_upload(str(upload.id))
    chunks = _follow_chunks(stream, BIG_DIGEST, len(BIG), fetch.pk)
    received = []
    with pytest.raises(BlobStreamBroken, match="do not match"):
        for chunk in chunks:
            received.append(chunk)
    assert sum(map(len, received)) < len(BIG)  # the last chunk was held back


def test_a_head_during_a_fetch_answers_its_size(client, hub, big, upstream):
    first = client.get(f"/v2/hub/big/blobs/{big}")
    head = client.head(f"/v2/hub/big/blobs/{big}")
    assert head.status_code == 200 and head["Content-Length"] == str(len(BIG))
    assert upstream.count("HEAD", "/blobs/") == 0
    body(first)


def test_a_response_dropped_unsent_releases_the_fetch(client, hub, big, upstream):
    response = client.get(f"/v2/hub/big/blobs/{big}")
    assert ProxyFetch.objects.exists()
    hang_up(response)  # never iterated: e.g. the client went away before the body started
    assert not ProxyFetch.objects.exists() and not Upload.objects.exists()
    assert body(client.get(f"/v2/hub/big/blobs/{big}")) == BIG
