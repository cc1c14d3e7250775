"""DELETE on /v2/ under access control: the delete level may, push and pull may not (403
DENIED), anonymous callers are challenged (401), also with a Bearer token."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from registry_api.models import Grant, Manifest, Namespace
from tests import builders
from tests.api.support import Registry, assert_error

from .conftest import basic, bearer, get_token

pytestmark = pytest.mark.django_db


class Signed:
    """A test client sending the same credentials with every request."""

    def __init__(self, client, auth: dict) -> None:
        self.client, self.auth = client, auth

    def __getattr__(self, method: str):
        return lambda *args, **kwargs: getattr(self.client, method)(*args, **{**self.auth, **kwargs})


@pytest.fixture
def image(client, users):
    """team/app:v1, and dave who holds the delete level on namespace team."""
    img = builders.image("deletable", layer_count=1)
    Registry(Signed(client, basic("root", "root-pw"))).push_image("team/app", "v1", img)
    dave = User.objects.create_user("dave", password="dave-pw")
    Grant.objects.create(namespace=Namespace.objects.get(name="team"), user=dave, level="delete")
    return img


@pytest.mark.parametrize("user", ["bob", "alice"])  # pull only; push
def test_without_the_delete_level_it_is_denied(client, image, user):
    for path in (f"/v2/team/app/manifests/{image.manifest.digest}", f"/v2/team/app/blobs/{image.blobs[0].digest}"):
        assert_error(client.delete(path, **basic(user, f"{user}-pw")), 403, "DENIED")
        scope = "repository:team/app:pull,push,delete"
        token = get_token(client, scope, auth=basic(user, f"{user}-pw"))["token"]
        assert_error(client.delete(path, **bearer(token)), 403, "DENIED")
    assert Manifest.objects.filter(digest=image.manifest.digest).exists()


def test_anonymous_deletes_are_challenged(client, image):
    response = client.delete(f"/v2/team/app/manifests/{image.manifest.digest}")
    assert_error(response, 401, "UNAUTHORIZED")
    assert 'scope="repository:team/app:delete"' in response["WWW-Authenticate"]


def test_the_delete_level_deletes(client, image):
    token = get_token(client, "repository:team/app:delete", auth=basic("dave", "dave-pw"))["token"]
    assert client.delete(f"/v2/team/app/blobs/{image.blobs[0].digest}", **bearer(token)).status_code == 202
    response = client.delete(f"/v2/team/app/manifests/{image.manifest.digest}", **basic("dave", "dave-pw"))
    assert response.status_code == 202
    assert not Manifest.objects.filter(digest=image.manifest.digest).exists()
