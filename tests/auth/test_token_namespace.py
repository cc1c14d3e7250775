"""An access token limited to one namespace never reaches beyond it, whatever its user may
do elsewhere: not by Basic on /v2/, not through the token endpoint, not in the catalog."""
from __future__ import annotations

import pytest

from registry_api.auth.credentials import Identity
from registry_api.auth.permissions import allowed_actions, is_repository_admin, visible_repositories
from registry_api.models import Grant, Namespace, Repository
from registry_api.services.tokens import TokenInvalid, token_create

from .conftest import basic, bearer, get_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(users):
    """alice may push in team and in other; her token may only reach team."""
    Grant.objects.create(namespace=Namespace.objects.get(name="other"), user=users["alice"], level="push")
    _, secret = token_create(user=users["alice"], name="ci", namespace="team")
    return secret


def test_the_limited_token_pushes_in_its_namespace_only(client, limited):
    assert client.post("/v2/team/app/blobs/uploads/", **basic("alice", limited)).status_code == 202
    assert client.post("/v2/other/app/blobs/uploads/", **basic("alice", limited)).status_code == 403
    # Her password still reaches both.
    assert client.post("/v2/other/app/blobs/uploads/", **basic("alice", "alice-pw")).status_code == 202


def test_the_token_endpoint_grants_nothing_outside(client, limited):
    answer = get_token(client, "repository:team/app:pull,push", "repository:other/app:pull,push",
                       auth=basic("alice", limited))
    assert client.post("/v2/team/app/blobs/uploads/", **bearer(answer["token"])).status_code == 202
    assert client.post("/v2/other/app/blobs/uploads/", **bearer(answer["token"])).status_code in (401, 403)
    import jwt
    claims = jwt.decode(answer["token"], options={"verify_signature": False})
    assert [a["name"] for a in claims["access"]] == ["team/app"]


def test_a_superusers_limited_token_is_limited_too(users):
    Repository.objects.create(name="team/app")
    Repository.objects.create(name="other/app")
    identity = Identity(users["root"], "token:1", namespace="team")
    assert allowed_actions(identity, "other/app") == frozenset()
    assert "push" in allowed_actions(identity, "team/app")
    assert not is_repository_admin(identity, "other/app")
    assert list(visible_repositories(identity).values_list("name", flat=True)) == ["team/app"]


def test_a_token_for_a_namespace_that_does_not_exist_is_refused(users):
    with pytest.raises(TokenInvalid, match="no namespace is called nope"):
        token_create(user=users["alice"], name="ci", namespace="nope")


def test_deleting_the_namespace_deletes_its_tokens(client, limited):
    assert client.get("/v2/", **basic("alice", limited)).status_code == 200
    Namespace.objects.get(name="team").delete()
    assert client.get("/v2/", **basic("alice", limited)).status_code == 401


def test_staff_make_a_limited_token_for_anyone_in_the_admin(client, users):
    from django.contrib.messages import get_messages

    Grant.objects.create(namespace=Namespace.objects.get(name="other"), user=users["alice"], level="push")
    client.force_login(users["root"])
    response = client.post("/admin/registry_api/accesstoken/add/", {
        "user": users["alice"].pk, "name": "deploy", "namespace": Namespace.objects.get(name="team").pk,
        "expires_at_0": "", "expires_at_1": "",
    }, follow=True)
    assert response.status_code == 200
    message = next(str(m) for m in get_messages(response.wsgi_request) if "again: " in str(m))
    secret = message.split("again: ", 1)[1].split()[0]
    client.logout()
    assert client.post("/v2/team/app/blobs/uploads/", **basic("alice", secret)).status_code == 202
    assert client.post("/v2/other/app/blobs/uploads/", **basic("alice", secret)).status_code == 403
