"""deploy/gunicorn.conf.py as it runs: sendfile, slow uploads outliving the worker timeout,
metrics summed over workers, one log format, and readiness of the database it serves.

Each test starts its own server (`_running_registry`) when it changes settings or breaks
something on purpose, so the shared `live_registry` stays clean for the others.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from unittest import mock

import pytest
from gunicorn.config import Config

from tests import builders
from tests.builders import sha256

from .conftest import REPO_ROOT, _running_registry
from .support import send, skopeo_push

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def _gunicorn_config() -> Config:
    """deploy/gunicorn.conf.py loaded the way gunicorn loads it (the names it knows), under
    the current environment; callers patch os.environ around it."""
    path = REPO_ROOT / "deploy" / "gunicorn.conf.py"
    namespace: dict = {"__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    config = Config()
    for key, value in namespace.items():
        if key in config.settings:
            config.set(key, value)
    return config


def test_config_sends_files_with_sendfile_from_threaded_workers():
    with mock.patch.dict(os.environ, {"REGISTRY_LOG_FORMAT": "json", "REGISTRY_ACCESS_LOG": "off", "SENDFILE": "0"}):
        config = _gunicorn_config()
        assert config.sendfile is True  # pinned on, whatever the environment said
    assert config.worker_class_str == "gthread" and config.threads >= 2
    assert config.logconfig_dict["loggers"]["gunicorn.error"]["handlers"] == ["stderr"]
    assert config.logconfig_dict["loggers"]["gunicorn.access"]["handlers"] == []  # access log off
    with mock.patch.dict(os.environ, {"REGISTRY_LOG_FORMAT": "plain", "REGISTRY_ACCESS_LOG": "-"}):
        plain = _gunicorn_config()
    assert plain.logconfig_dict == {} and plain.accesslog == "-"
    # Why the file does not say `sendfile = True`: gunicorn reads any value as "off".
    trap = Config()
    trap.set("sendfile", True)
    assert trap.sendfile is False


def _readiness(registry) -> tuple[int, dict]:
    response = registry.request("GET", "/readyz")
    return response.status, response.json()


def test_not_ready_once_the_database_file_is_replaced(tmp_path):
    """A restore gone wrong or a deleted file: `SELECT 1` on a kept-alive connection still
    answers from the old file; every new connection would find an empty database."""
    with _running_registry(tmp_path / "registry", auth=False) as registry:
        assert _readiness(registry) == (200, {"status": "ok", "database": "ok", "storage": "ok"})
        database = registry.data_dir / "registry.sqlite3"
        kept = database.with_name("kept.sqlite3")
        database.rename(kept)
        database.write_bytes(b"")
        try:
            for _ in range(4):  # whichever worker answers, with or without a kept connection
                status, body = _readiness(registry)
                assert (status, body["database"]) == (503, "unreachable")
            assert registry.request("HEAD", "/readyz").status == 503
        finally:
            kept.replace(database)
        assert _readiness(registry)[0] == 200
        assert "readiness: database not usable" in registry.log.read()
