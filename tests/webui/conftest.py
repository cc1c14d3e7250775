"""Fixed people and content for the portal tests (healthchecks style, no factories).

People: `reader` may pull namespace `team`, `pusher` may push there (no delete),
`deleter` may delete tags and manifests there, `owner` holds the admin level there (also
deletes whole repositories, and has their settings pages), `root` is a superuser;
anonymous visitors have no account.
Content, pushed through /v2/ with real images: `team/app` (v1, v2: two images sharing
nothing; `shared` is v1's image pushed again into `team/copy`), `team/multi:latest` (an
index of two platforms), `pub/tool:1` (namespace `pub` is public), `secret/box:1` (nobody
but root). Everyone's password is "<name>-pw".
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from registry_api.models import Grant, Namespace
from tests import builders
from tests.api.support import Registry

PEOPLE = ("anonymous", "reader", "pusher", "deleter", "owner", "root")


@pytest.fixture(autouse=True)
def _portal_settings(access_control_on):
    yield


@pytest.fixture
def people(db) -> dict[str, User | None]:
    User.objects.all().delete()  # the post_migrate bootstrap may have made `admin`
    team = Namespace.objects.create(name="team")
    Namespace.objects.create(name="pub", public=True)
    made: dict[str, User | None] = {"anonymous": None}
    for name, level in (("reader", "pull"), ("pusher", "push"), ("deleter", "delete"), ("owner", "admin")):
        made[name] = User.objects.create_user(name, password=f"{name}-pw")
        Grant.objects.create(namespace=team, user=made[name], level=level)
    made["root"] = User.objects.create_superuser("root", password="root-pw")
    return made


@dataclass
class Content:
    v1: builders.Image
    v2: builders.Image
    amd64: builders.Image
    arm64: builders.Image
    index: builders.Blob
    tool: builders.Image
    secret: builders.Image


def push(client, settings, name: str, tag: str, image: builders.Image) -> None:
    """Push through /v2/ as an open registry would take it (access control is not the subject)."""
    settings.REGISTRY_AUTH_ENABLED = False
    try:
        Registry(client).push_image(name, tag, image)
    finally:
        settings.REGISTRY_AUTH_ENABLED = True


@pytest.fixture
def content(client, settings, people) -> Content:
    made = Content(
        v1=builders.image("v1"), v2=builders.image("v2", layer_count=3),
        amd64=builders.image("multi", architecture="amd64"), arm64=builders.image("multi", architecture="arm64"),
        index=None, tool=builders.image("tool"), secret=builders.image("secret"),
    )
    push(client, settings, "team/app", "v1", made.v1)
    push(client, settings, "team/app", "v2", made.v2)
    push(client, settings, "team/copy", "shared", made.v1)
    for image in (made.amd64, made.arm64):
        push(client, settings, "team/multi", image.platform["architecture"], image)
    made.index = builders.index([made.amd64, made.arm64])
    settings.REGISTRY_AUTH_ENABLED = False
    Registry(client).push_manifest("team/multi", "latest", made.index)
    settings.REGISTRY_AUTH_ENABLED = True
    push(client, settings, "pub/tool", "1", made.tool)
    push(client, settings, "secret/box", "1", made.secret)
    return made


@pytest.fixture
def as_person(client, people):
    """`as_person("reader")` signs the test client in as that person (or out, "anonymous")."""

    def sign_in(name: str):
        client.logout()
        if people[name] is not None:
            client.force_login(people[name])
        return client

    return sign_in


def image_size(*images: builders.Image) -> int:
    """What the portal shows as the size of images (a tag, an index): their blobs, each
    once; manifests are not counted (as in the repository's total)."""
    return sum({b.digest: len(b.data) for image in images for b in image.blobs}.values())
