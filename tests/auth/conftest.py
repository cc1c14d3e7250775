"""Fixed users for access-control tests (healthchecks style: alice, bob, carol, root).

alice may push to namespace `team`, bob may only pull from it (through a group), carol
owns namespace `other`; root is a superuser. Everyone's password is "<name>-pw".
"""
from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Group, User

from registry_api.auth import tokens
from registry_api.models import Grant, Namespace


@pytest.fixture(autouse=True)
def _auth_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.REGISTRY_AUTH_ENABLED = True
    settings.REGISTRY_ANONYMOUS_PULL = False
    settings.REGISTRY_TOKEN_KEY = ""
    # Password hashing is deliberately slow; tests check logic, not the hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tokens.signing_key.cache_clear()
    from storage_backends import get_storage

    get_storage.cache_clear()
    yield
    tokens.signing_key.cache_clear()
    get_storage.cache_clear()


@pytest.fixture
def users(db):
    User.objects.all().delete()  # the post_migrate bootstrap may have made `admin`
    team, other = Namespace.objects.create(name="team"), Namespace.objects.create(name="other")
    readers = Group.objects.create(name="team-readers")
    made = {}
    for name in ("alice", "bob", "carol"):
        made[name] = User.objects.create_user(name, password=f"{name}-pw")
    made["root"] = User.objects.create_superuser("root", password="root-pw")
    made["bob"].groups.add(readers)
    Grant.objects.create(namespace=team, user=made["alice"], level="push")
    Grant.objects.create(namespace=team, group=readers, level="pull")
    Grant.objects.create(namespace=other, user=made["carol"], level="admin")
    return made


def basic(username: str, password: str) -> dict:
    value = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {value}"}


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def get_token(client, *scopes: str, auth: dict | None = None, **params) -> dict:
    response = client.get("/auth/token", {"service": "docker-registry-manager", "scope": list(scopes), **params}, **(auth or {}))
    assert response.status_code == 200, response.content
    return response.json()
