"""Fixtures shared by every test directory; each directory's conftest.py holds its own.

tests/api, tests/services, tests/storage and tests/auth run in-process against the Django
test client. tests/e2e starts gunicorn (and dockerd) and drives real clients over
loopback; those tests carry the `e2e` marker, so `pytest -m "not e2e"` skips them.
"""

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """The test database is migrated with the data directory in a temporary place, so the
    first-start bootstrap (admin password file, keys) never writes into the checkout's data/."""
    from django.conf import settings

    settings.DATA_DIR = tmp_path_factory.mktemp("session-data")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3 server on a loopback port, one per xdist worker, stopped at the end."""
    from .s3server import start_s3_server

    server = start_s3_server(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


@pytest.fixture
def s3_storage(s3_server, settings):
    """The registry's settings pointed at a fresh bucket of the moto server (5 MiB parts)."""
    from storage_backends import get_storage

    bucket = s3_server.new_bucket()
    for name, value in s3_server.settings_env(bucket).items():
        setattr(settings, name, value)
    settings.REGISTRY_S3_PREFIX = ""
    settings.REGISTRY_S3_REDIRECT = False
    settings.REGISTRY_S3_PART_SIZE = 5 * 1024 * 1024
    get_storage.cache_clear()
    yield get_storage()
    get_storage.cache_clear()
