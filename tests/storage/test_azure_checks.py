"""System checks of the Azure backend: a contradictory setting (storage_backends.E003) or a
container or account the registry cannot reach (E001) stops the start, naming the setting."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from storage_backends.apps import check_azure_settings, check_storage_backend
from tests.azurite import ACCOUNT_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("data_dir_in_tmp")


@pytest.fixture
def azure_settings(settings):
    settings.REGISTRY_STORAGE_BACKEND = "storage_backends.azure.AzureStorage"
    settings.REGISTRY_AZURE_ACCOUNT_URL = "https://myaccount.blob.core.windows.net"
    settings.REGISTRY_AZURE_CONNECTION_STRING = ""
    settings.REGISTRY_AZURE_CONTAINER = "registry"
    settings.REGISTRY_AZURE_ACCOUNT_KEY = ACCOUNT_KEY
    settings.REGISTRY_AZURE_SAS_TOKEN = ""
    settings.REGISTRY_AZURE_PREFIX = ""
    settings.REGISTRY_AZURE_REDIRECT = False
    settings.REGISTRY_AZURE_BLOCK_SIZE = 8 * 1024 * 1024
    return settings


def test_good_settings_pass(azure_settings):
    assert check_azure_settings() == []


def test_each_problem_is_an_error_naming_its_setting(azure_settings):
    azure_settings.REGISTRY_AZURE_CONTAINER = ""
    azure_settings.REGISTRY_AZURE_BLOCK_SIZE = 10
    messages = check_azure_settings()
    assert [m.id for m in messages] == ["storage_backends.E003"] * 2
    assert "REGISTRY_AZURE_CONTAINER" in messages[0].msg and "REGISTRY_AZURE_BLOCK_SIZE" in messages[1].msg


def test_other_backends_are_not_checked(settings):
    settings.REGISTRY_AZURE_CONTAINER = ""
    assert check_azure_settings() == []


def test_a_missing_container_stops_the_start(azure_settings, azurite):
    azure_settings.REGISTRY_AZURE_ACCOUNT_URL = azurite.account_url
    azure_settings.REGISTRY_AZURE_CONTAINER = "no-such-container"
    messages = check_storage_backend()
    assert [m.id for m in messages] == ["storage_backends.E001"]
    assert "REGISTRY_AZURE_CONTAINER" in messages[0].msg


def test_manage_py_refuses_to_start_against_an_unreachable_account(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/devstoreaccount1"
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "registry_project.settings",
           "REGISTRY_DATA_DIR": str(tmp_path), "REGISTRY_STORAGE_BACKEND": "storage_backends.azure.AzureStorage",
           "REGISTRY_AZURE_ACCOUNT_URL": url, "REGISTRY_AZURE_CONTAINER": "registry",
           "REGISTRY_AZURE_ACCOUNT_KEY": ACCOUNT_KEY}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "storage_backends.E001" in result.stderr and "REGISTRY_AZURE_ACCOUNT_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert ACCOUNT_KEY not in result.stderr
