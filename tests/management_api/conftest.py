"""Fixed callers and content for the management API's tests (access control on).

Callers, each with an access token (`Authorization: Bearer`): `puller` may pull namespace
`team`; `repo_admin` holds the admin level on repository `team/app` only; `ns_admin`
holds it on namespace `team`; `staff` is a superuser; `anonymous` sends nothing. `other`
administers namespace `other` (for ids that belong to another namespace).
Content pushed through /v2/: `team/app:v1`, `team/app:v2`, `team/tool:1`, `other/box:1`.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.test import Client

from registry_api.auth.credentials import access_token_create
from registry_api.models import Grant, Namespace, Repository
from tests import builders
from tests.api.support import Registry

ROLES = ("anonymous", "puller", "repo_admin", "ns_admin", "staff")


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def docker_login(client: Client, user: str, secret: str, scope: str = "repository:team/app:pull"):
    """What `docker login` and then a pull do first: Basic at /auth/token, for a Bearer token."""
    return client.get("/auth/token", {"service": "docker-registry-manager", "scope": scope},
                      headers=basic(user, secret))


@pytest.fixture(autouse=True)
def _secured(access_control_on):
    yield


@dataclass
class World:
    tokens: dict[str, str]
    users: dict[str, User]
    v1: builders.Image

    def headers(self, role: str) -> dict[str, str]:
        return {} if role == "anonymous" else {"Authorization": f"Bearer {self.tokens[role]}"}


def _push(client: Client, settings, name: str, tag: str, image: builders.Image) -> None:
    settings.REGISTRY_AUTH_ENABLED = False  # content, not access control, is the subject here
    try:
        Registry(client).push_image(name, tag, image)
    finally:
        settings.REGISTRY_AUTH_ENABLED = True


@pytest.fixture
def world(db, settings) -> World:
    User.objects.all().delete()  # the post_migrate bootstrap may have made `admin`
    team = Namespace.objects.create(name="team")
    other = Namespace.objects.create(name="other")
    loader = Client()
    v1 = builders.image("api-v1")
    _push(loader, settings, "team/app", "v1", v1)
    _push(loader, settings, "team/app", "v2", builders.image("api-v2", layer_count=2))
    _push(loader, settings, "team/tool", "1", builders.image("api-tool"))
    _push(loader, settings, "other/box", "1", builders.image("api-box"))
    users = {name: User.objects.create_user(name, password=f"{name}-pw")
             for name in ("puller", "repo_admin", "ns_admin", "other")}
    users["staff"] = User.objects.create_superuser("staff", password="staff-pw")
    Grant.objects.create(namespace=team, user=users["puller"], level="pull")
    Grant.objects.create(repository=Repository.objects.get(name="team/app"), user=users["repo_admin"], level="admin")
    Grant.objects.create(namespace=team, user=users["ns_admin"], level="admin")
    Grant.objects.create(namespace=other, user=users["other"], level="admin")
    tokens = {name: access_token_create(user=user, name="api")[1] for name, user in users.items()}
    return World(tokens, users, v1)


@pytest.fixture
def api(client, world):
    """`api("GET", "/api/v1/…", role, json=…, headers=…)`: a request as that caller."""

    def call(method: str, path: str, role: str = "staff", json=None, headers: dict | None = None, **extra):
        sent = {**world.headers(role), **(headers or {})}
        kwargs = {"headers": sent, **extra}
        if json is not None:
            kwargs.update(data=json, content_type="application/json")
        return getattr(client, method.lower())(path, **kwargs)

    return call
