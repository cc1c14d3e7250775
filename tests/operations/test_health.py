"""/healthz and /readyz for load balancers and systemd watchdogs: no auth, JSON answers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage_backends import get_storage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir_in_tmp")]


def test_liveness_needs_no_credentials(client, settings):
    settings.REGISTRY_AUTH_ENABLED = True
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_when_database_and_storage_work(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}


def test_head_answers_like_get_without_a_body(client):
    """Load balancers (and `curl -I`) probe with HEAD; 405 would mark the node down."""
    for path in ("/healthz", "/readyz"):
        response = client.head(path)
        assert response.status_code == 200 and response.content == b"", path
        assert response["Content-Length"] == "0"


def test_the_storage_check_really_writes(tmp_path):
    get_storage().check()
    assert sorted(p.name for p in tmp_path.joinpath("blobs").iterdir()) == []  # the probe is gone
    assert sorted(p.name for p in tmp_path.joinpath("uploads").iterdir()) == []


def test_not_ready_when_writes_fail_though_the_mode_bits_allow_them(client, tmp_path):
    """os.access() says a sysfs directory is writable (for root, on a rw sysfs); creating a
    file there fails, like a full disk or a dead mount: only a real write finds out."""
    target = Path("/sys/kernel")
    if not os.access(target, os.W_OK):
        pytest.skip("sysfs is read-only here: os.access() already sees that")
    (tmp_path / "blobs").symlink_to(target)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "storage": "not writable"}
    assert str(tmp_path) not in response.content.decode()
    assert client.head("/readyz").status_code == 503


def test_not_ready_when_an_area_is_not_a_directory(client, tmp_path):
    (tmp_path / "uploads").write_bytes(b"")  # a file where the upload staging area should be
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["storage"] == "not writable"
    assert "Errno" not in response.content.decode()
