"""Fixtures of the proxy tests: a fake upstream registry on loopback (fake_upstream.py),
a proxy namespace `hub` in front of it, and the API client of tests/api."""
from __future__ import annotations

import pytest

from registry_api.models import ProxyNamespace
from storage_backends import get_storage
from tests import builders
from tests.api.support import Registry

from .fake_upstream import FakeUpstream


@pytest.fixture(autouse=True)
def storage_root(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.REGISTRY_AUTH_ENABLED = False  # tests/proxy/test_access.py switches it on
    get_storage.cache_clear()
    yield tmp_path
    get_storage.cache_clear()


@pytest.fixture
def upstream():
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def hub(upstream) -> ProxyNamespace:
    """Docker Hub's shape: `hub/alpine` is `library/alpine` upstream."""
    return ProxyNamespace.objects.create(name="hub", upstream_url=upstream.url, library_default=True)


@pytest.fixture
def registry(client) -> Registry:
    return Registry(client)


@pytest.fixture
def alpine(upstream) -> builders.Image:
    """`library/alpine:3.20` upstream."""
    image = builders.image("alpine", layer_count=2)
    upstream.add_image("library/alpine", "3.20", image)
    return image


def upstream_index(upstream, name: str, tag: str) -> tuple[builders.Image, builders.Image, builders.Blob]:
    """A two-platform index under `tag` upstream, its children by digest only."""
    amd64, arm64 = builders.image(name, architecture="amd64"), builders.image(name, architecture="arm64")
    index = builders.index([amd64, arm64])
    for image in (amd64, arm64):
        upstream.add_image(f"library/{name}", None, image)
    upstream.add_manifest(f"library/{name}", tag, index)
    return amd64, arm64, index


def hang_up(response) -> None:
    """Close a response as the server does when the client goes away, keeping the test's
    database connection: closing fires request_finished (twice through the test client's
    wrapper, which connects close_old_connections again in between), and on PostgreSQL
    that would end the test's transaction (SQLite's in-memory test database ignores it)."""
    from unittest import mock

    from django.db import connections

    wrapper = type(connections["default"])
    with mock.patch.object(wrapper, "close_if_unusable_or_obsolete", lambda self: None):
        response.close()


def body(response) -> bytes:
    """The body of a plain or a streaming response."""
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content
