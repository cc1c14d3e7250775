"""The portal's front page shows only what the visitor may pull."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from registry_api.models import Blob, Grant, Namespace, Repository, RepositoryBlob

pytestmark = pytest.mark.django_db


@pytest.fixture
def content(settings):
    settings.REGISTRY_AUTH_ENABLED = True
    settings.REGISTRY_ANONYMOUS_PULL = False
    public = Namespace.objects.create(name="pub", public=True)
    Namespace.objects.create(name="secret")
    blob = Blob.objects.create(digest="sha256:" + "a" * 64, size=1000)
    for name in ("pub/app", "secret/app"):
        RepositoryBlob.objects.create(repository=Repository.objects.create(name=name), blob=blob)
    return public


def test_anonymous_visitor_sees_public_repositories_only(client, content):
    page = client.get("/").content.decode()
    assert "pub/app" in page and "secret/app" not in page
    assert '<dd id="count-repositories">1</dd>' in page


def test_signed_in_user_sees_what_they_may_pull(client, content):
    user = User.objects.create_user("dev", password="x")
    Grant.objects.create(namespace=Namespace.objects.get(name="secret"), user=user, level="pull")
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "pub/app" in page and "secret/app" in page
    assert '<dd id="count-repositories">2</dd>' in page
    assert '<dd id="count-blobs">1 (1000\xa0bytes)</dd>' in page
