"""storage_backends.E001: a backend that cannot be built or reached stops the start (manage.py
check, migrate, gunicorn's import of the app), never a silent fallback to another."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage_backends.apps import check_storage_backend

REPO_ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("data_dir_in_tmp")


def test_the_configured_backend_passes(settings):
    assert check_storage_backend() == []


@pytest.mark.parametrize("path", [
    "storage_backends.nowhere.Storage",  # no such module
    "storage_backends.filesystem.NoSuchClass",  # no such class
    "not a dotted path",
])
def test_an_unknown_backend_is_an_error(settings, path):
    settings.REGISTRY_STORAGE_BACKEND = path
    messages = check_storage_backend()
    assert [m.id for m in messages] == ["storage_backends.E001"]
    assert messages[0].is_serious()
    assert "REGISTRY_STORAGE_BACKEND" in messages[0].hint


def test_a_backend_that_cannot_prepare_its_directories_is_an_error(settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data directory should be")
    settings.DATA_DIR = blocker
    assert [m.id for m in check_storage_backend()] == ["storage_backends.E001"]


def test_manage_py_refuses_to_start_with_an_unknown_backend(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "registry_project.settings",
           "REGISTRY_DATA_DIR": str(tmp_path), "REGISTRY_STORAGE_BACKEND": "storage_backends.s4.Storage"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "storage_backends.E001" in result.stderr
    assert "Traceback" not in result.stderr
