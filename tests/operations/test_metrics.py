"""/metrics: Prometheus text, counters that move with traffic, stored totals, access limits."""
from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from storage_backends import get_storage
from tests.api.support import Registry
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _open_registry(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.REGISTRY_AUTH_ENABLED = False
    get_storage.cache_clear()
    yield
    get_storage.cache_clear()


def scrape(client, **extra) -> str:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def value(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_values_change_as_images_are_pushed_and_pulled(client):
    before = scrape(client)
    image = builders.image("metrics", layer_count=2)
    Registry(client).push_image("team/metrics", "v1", image)
    client.get(f"/v2/team/metrics/blobs/{image.layers[0].digest}")
    after = scrape(client)
    assert value(after, "registry_blobs") == value(before, "registry_blobs") + 3
    assert value(after, "registry_blob_bytes") == value(before, "registry_blob_bytes") + sum(len(b.data) for b in image.blobs)
    assert value(after, "registry_tags") == value(before, "registry_tags") + 1
    put_label = 'method="PUT",route="manifest",status="201"'
    assert value(after, "registry_http_requests_total", put_label) == value(before, "registry_http_requests_total", put_label) + 1
    received = value(after, "registry_http_received_bytes_total", 'route="upload_session"')
    assert received - value(before, "registry_http_received_bytes_total", 'route="upload_session"') == sum(len(b.data) for b in image.blobs)
    sent = value(after, "registry_http_sent_bytes_total", 'route="blob"') - value(before, "registry_http_sent_bytes_total", 'route="blob"')
    assert sent == len(image.layers[0].data)


def test_uploads_in_progress(client):
    before = value(scrape(client), "registry_uploads_in_progress")
    client.post("/v2/team/metrics/blobs/uploads/")
    assert value(scrape(client), "registry_uploads_in_progress") == before + 1


def test_closed_to_other_networks_unless_token(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    settings.REGISTRY_METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24"]
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    settings.REGISTRY_METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    ok = client.get("/metrics", REMOTE_ADDR="198.51.100.1", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert ok.status_code == 200


def test_can_be_switched_off(client, settings):
    settings.REGISTRY_METRICS_ENABLED = False
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_garbage_collections_show_whichever_process_ran_them(client):
    """`manage.py gc` runs from the timer in a process of its own: its figures are rows,
    so every worker's /metrics reports them."""
    image = builders.image("collected", layer_count=2)
    Registry(client).push_image("team/gone", "v1", image)
    assert client.delete(f"/v2/team/gone/manifests/{image.manifest.digest}").status_code == 202
    before = scrape(client)
    assert value(before, "registry_gc_runs_total") == 0 and "registry_gc_freed_bytes_total 0.0" in before
    call_command("gc", "--grace-period", "0s", "--dry-run", stdout=io.StringIO())
    assert value(scrape(client), "registry_gc_runs_total") == 0  # a dry run frees nothing
    call_command("gc", "--grace-period", "0s", stdout=io.StringIO())
    after = scrape(client)
    assert value(after, "registry_gc_runs_total") == 1
    assert value(after, "registry_gc_deleted_blobs_total") == 3
    assert value(after, "registry_gc_freed_bytes_total") == sum(len(b.data) for b in image.blobs)
    assert value(after, "registry_gc_last_run_timestamp_seconds") > 0
