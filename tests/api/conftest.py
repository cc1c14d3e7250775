"""Fixtures for the /v2/ API tests: a real database, a storage root under tmp_path, and a
client that pushes real images (tests/builders.py) through the API itself."""
from __future__ import annotations

import pytest

from tests import builders

from .support import Registry


@pytest.fixture(autouse=True)
def storage_root(db, settings, data_dir_in_tmp):
    """Blobs and uploads under tmp_path (tests/conftest.py)."""
    # These tests are about the protocol; access control has its own suite (tests/auth).
    settings.REGISTRY_AUTH_ENABLED = False
    return data_dir_in_tmp


@pytest.fixture
def registry(client) -> Registry:
    return Registry(client)


@pytest.fixture
def app_image() -> builders.Image:
    return builders.image("app")


@pytest.fixture
def pushed_image(registry, app_image) -> builders.Image:
    """`library/app:latest`, pushed blob by blob and then by manifest."""
    registry.push_image("library/app", "latest", app_image)
    return app_image
