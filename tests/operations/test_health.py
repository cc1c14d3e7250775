"""/healthz and /readyz for load balancers and systemd watchdogs: no auth, JSON answers."""
from __future__ import annotations

import pytest
from django.db import connection

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


def test_not_ready_when_storage_is_not_writable(client, tmp_path, monkeypatch):
    def broken_check():
        raise PermissionError("blobs directory is not writable")

    monkeypatch.setattr(get_storage(), "check", broken_check)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["storage"] == "not writable" and response.json()["database"] == "ok"
    assert "PermissionError" not in response.content.decode() and str(tmp_path) not in response.content.decode()


def test_not_ready_when_the_database_fails(client, monkeypatch):
    class BrokenCursor:
        def __enter__(self):
            raise connection.Database.OperationalError("unable to open database file")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(connection, "cursor", lambda: BrokenCursor())
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"
