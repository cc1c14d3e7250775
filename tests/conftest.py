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


@pytest.fixture
def data_dir_in_tmp(settings, tmp_path):
    """DATA_DIR (blobs, uploads) under tmp_path; the cached backend instance is rebuilt for
    it, and again afterwards so no other test sees this one's directory."""
    from storage_backends import get_storage

    settings.DATA_DIR = tmp_path
    get_storage.cache_clear()
    yield tmp_path
    get_storage.cache_clear()


@pytest.fixture
def access_control_on(settings, tmp_path):
    """The registry as installed (access control on, no anonymous pull, deletes allowed),
    with a fast password hasher, DATA_DIR and its storage under tmp_path and an empty cache
    (the portal's and the management API's tests)."""
    from django.core.cache import cache

    from storage_backends import get_storage

    settings.DATA_DIR = tmp_path
    settings.REGISTRY_AUTH_ENABLED = True
    settings.REGISTRY_ANONYMOUS_PULL = False
    settings.REGISTRY_DELETE_ENABLED = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_storage.cache_clear()
    cache.clear()  # e.g. the dashboard's figures of another test's database
    yield
    get_storage.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_proxy_configuration():
    """Each test sees the proxies and groups of its own database, and fetches its own
    upstream tokens: both are cached per process in the server."""
    from registry_api.proxy.upstream import token_cache_clear
    from registry_api.services.routing import config_cache_clear

    config_cache_clear()
    token_cache_clear()
    yield
    config_cache_clear()
    token_cache_clear()


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server with a migrated template database (tests/postgres.py): the one
    named by REGISTRY_TEST_POSTGRES_URL, else a private cluster for this session."""
    import os

    from tests.postgres import PostgresServer, PrivateCluster, find_bindir, unavailable

    cluster = None
    url = os.environ.get("REGISTRY_TEST_POSTGRES_URL")
    try:
        if url:
            from urllib.parse import urlsplit

            server = PostgresServer(url, urlsplit(url).path.strip("/") or "postgres")
        else:
            bindir = find_bindir()
            if bindir is None:
                unavailable("/usr/lib/postgresql/*/bin/initdb is not installed")
            cluster = PrivateCluster(bindir)
            server = cluster.start()
        server.migrate_template()
    except Exception as exc:
        if cluster is not None:
            cluster.stop()
        unavailable(f"it could not be started: {exc}")
    try:
        yield server
    finally:
        try:
            if cluster is None:
                server.drop_created()
        finally:
            if cluster is not None:
                cluster.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3 server on a loopback port, one per xdist worker, stopped at the end."""
    from .s3server import start_s3_server

    server = start_s3_server(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """Azurite's blob service on a loopback port, one per xdist worker, stopped at the end;
    skipped where it is not installed, failed instead under REGISTRY_E2E_REQUIRE_TOOLS."""
    from .azurite import missing_reason, start_azurite
    from .e2e.support import unavailable

    reason = missing_reason()
    if reason is not None:
        unavailable(f"Azurite cannot run: {reason}")
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


@pytest.fixture
def azure_storage(azurite, settings):
    """The registry's settings pointed at a fresh container of Azurite (1 MiB blocks)."""
    from storage_backends import get_storage

    for name, value in azurite.settings_env(azurite.new_container()).items():
        setattr(settings, name, value)
    settings.REGISTRY_AZURE_CONNECTION_STRING = ""
    settings.REGISTRY_AZURE_SAS_TOKEN = ""
    settings.REGISTRY_AZURE_PREFIX = ""
    settings.REGISTRY_AZURE_REDIRECT = False
    settings.REGISTRY_AZURE_BLOCK_SIZE = 1024 * 1024
    get_storage.cache_clear()
    yield get_storage()
    get_storage.cache_clear()


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
