"""Every events test: data under tmp_path, no background sender (tests call `deliver_due`
when they mean to send), access control off unless a module turns it on."""
from __future__ import annotations

import pytest

from storage_backends import get_storage


@pytest.fixture(autouse=True)
def _events_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.REGISTRY_AUTH_ENABLED = False
    settings.REGISTRY_WEBHOOK_SEND_IN_BACKGROUND = False
    get_storage.cache_clear()
    yield
    get_storage.cache_clear()
