"""Who may do what: grants by namespace, repository and group; public content; catalog; mounts."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from registry_api.auth.credentials import ANONYMOUS, Identity
from registry_api.auth.permissions import allowed_actions
from registry_api.models import Grant, Namespace, Repository, RepositoryBlob
from tests import builders

from .conftest import basic, bearer, get_token

pytestmark = pytest.mark.django_db


def actions(user, name, read_only=False):
    return set(allowed_actions(Identity(user, "password", read_only) if user else ANONYMOUS, name))


def test_levels_are_cumulative_and_come_from_namespace_repository_and_groups(users):
    assert actions(users["alice"], "team/app") == {"pull", "push"}
    assert actions(users["bob"], "team/app") == {"pull"}
    # admin = delete plus MANAGE ("admin"): the whole repository's delete and settings.
    assert actions(users["carol"], "other/deep/name") == {"pull", "push", "delete", "admin"}
    assert actions(users["carol"], "team/app") == set()
    assert actions(users["root"], "anything/at/all") == {"pull", "push", "delete", "admin"}
    repository = Repository.objects.create(name="other/shared")
    Grant.objects.create(repository=repository, user=users["bob"], level="delete")
    assert actions(users["bob"], "other/shared") == {"pull", "push", "delete"}
    assert actions(users["bob"], "other/unshared") == set()
    assert actions(users["root"], "x/y", read_only=True) == {"pull"}


def test_manage_never_goes_into_a_token(client, users):
    body = get_token(client, "repository:other/x:admin,pull", "repository:other/y:*", auth=basic("carol", "carol-pw"))
    assert body["scope"] == "repository:other/x:pull repository:other/y:delete,pull,push"


def test_namespace_grant_does_not_leak_to_a_prefix_lookalike(users):
    assert actions(users["alice"], "teamx/app") == set()


def test_public_namespace_repository_and_global_switch(users, settings):
    assert actions(None, "team/app") == set()
    Namespace.objects.filter(name="team").update(public=True)
    assert actions(None, "team/app") == {"pull"}
    Repository.objects.create(name="other/open", public=True)
    assert actions(None, "other/open") == {"pull"} and actions(None, "other/closed") == set()
    settings.REGISTRY_ANONYMOUS_PULL = True
    assert actions(None, "other/closed") == {"pull"}


def _push_blob(client, name, auth, data=b"layer bytes"):
    digest = builders.sha256(data)
    response = client.post(f"/v2/{name}/blobs/uploads/?digest={digest}", data, content_type="application/octet-stream", **auth)
    assert response.status_code == 201, response.content
    return digest


def test_anonymous_pull_only_on_public_repositories(client, users):
    root = basic("root", "root-pw")
    digest = _push_blob(client, "team/app", root)
    assert client.get(f"/v2/team/app/blobs/{digest}").status_code == 401
    Namespace.objects.filter(name="team").update(public=True)
    token = get_token(client, "repository:team/app:pull")["token"]
    assert client.get(f"/v2/team/app/blobs/{digest}", **bearer(token)).status_code == 200
    assert client.post("/v2/team/app/blobs/uploads/", **bearer(token)).status_code == 401


def test_catalog_lists_only_what_the_caller_may_pull(client, users):
    for name in ("team/app", "other/secret", "public/thing"):
        Repository.objects.create(name=name, public=name.startswith("public"))
    def catalog(auth):
        token = get_token(client, "registry:catalog:*", auth=auth)["token"]
        response = client.get("/v2/_catalog", **bearer(token))
        assert response.status_code == 200
        return response.json()["repositories"]
    assert catalog(basic("bob", "bob-pw")) == ["public/thing", "team/app"]
    assert catalog(basic("carol", "carol-pw")) == ["other/secret", "public/thing"]
    assert catalog(basic("root", "root-pw")) == ["other/secret", "public/thing", "team/app"]
    assert catalog(None) == ["public/thing"]
    assert client.get("/v2/_catalog", **basic("bob", "bob-pw")).json()["repositories"] == ["public/thing", "team/app"]


def test_catalog_token_needs_the_catalog_scope(client, users):
    token = get_token(client, "repository:team/app:pull", auth=basic("bob", "bob-pw"))["token"]
    value = client.get("/v2/_catalog", **bearer(token))["WWW-Authenticate"]
    assert 'scope="registry:catalog:*"' in value


def test_mount_from_an_unreadable_repository_starts_a_normal_upload(client, users):
    digest = _push_blob(client, "other/private", basic("carol", "carol-pw"))
    response = client.post(
        f"/v2/team/app/blobs/uploads/?mount={digest}&from=other/private", **basic("alice", "alice-pw")
    )
    assert response.status_code == 202
    assert not RepositoryBlob.objects.filter(repository__name="team/app", blob__digest=digest).exists()
    assert client.head(f"/v2/team/app/blobs/{digest}", **basic("alice", "alice-pw")).status_code == 404


def test_mount_from_a_readable_repository_links_the_blob(client, users):
    other = User.objects.get(username="carol")
    Grant.objects.create(namespace=Namespace.objects.get(name="team"), user=other, level="push")
    digest = _push_blob(client, "other/src", basic("carol", "carol-pw"))
    response = client.post(f"/v2/team/app/blobs/uploads/?mount={digest}&from=other/src", **basic("carol", "carol-pw"))
    assert response.status_code == 201
    token = get_token(client, "repository:team/app2:pull,push", "repository:other/src:pull", auth=basic("carol", "carol-pw"))["token"]
    response = client.post(f"/v2/team/app2/blobs/uploads/?mount={digest}&from=other/src", **bearer(token))
    assert response.status_code == 201
