"""Fixtures for the housekeeping admin pages: blobs under tmp_path, content pushed through
the services, a superuser and a staff member who may only look."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from storage_backends import get_storage
from tests.services.conftest import Store


@pytest.fixture(autouse=True)
def storage_root(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    get_storage.cache_clear()
    yield tmp_path
    get_storage.cache_clear()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def root_client(client):
    client.force_login(User.objects.create_superuser("root-hk", password="x"))
    return client


@pytest.fixture
def viewer_client(client):
    """Staff who may view the housekeeping pages, but is no superuser."""
    user = User.objects.create_user("viewer-hk", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_garbagecollection", "view_staleupload", "view_namespaceusage"]))
    client.force_login(user)
    return client
