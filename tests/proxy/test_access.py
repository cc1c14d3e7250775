"""Access control through proxies, the mirror and groups (access control on): pull rights
on the proxy or group namespace, as for hosted ones; read-only for everyone."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from registry_api.auth import tokens
from registry_api.models import GroupMember, GroupNamespace, Grant, Namespace
from tests.api.support import assert_error
from tests.auth.conftest import basic, bearer, get_token

from .conftest import body


@pytest.fixture(autouse=True)
def _secured(settings):
    settings.REGISTRY_AUTH_ENABLED = True
    settings.REGISTRY_ANONYMOUS_PULL = False
    settings.REGISTRY_TOKEN_KEY = ""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tokens.signing_key.cache_clear()
    yield
    tokens.signing_key.cache_clear()


@pytest.fixture
def people(db, hub):
    """dora may pull hub; tom may push team (not hub); root is a superuser."""
    User.objects.all().delete()
    made = {name: User.objects.create_user(name, password=f"{name}-pw") for name in ("dora", "tom")}
    made["root"] = User.objects.create_superuser("root", password="root-pw")
    Grant.objects.create(namespace=Namespace.objects.create(name="hub"), user=made["dora"], level="pull")
    Grant.objects.create(namespace=Namespace.objects.create(name="team"), user=made["tom"], level="push")
    return made


def test_pull_needs_pull_rights_on_the_proxy_namespace(client, people, alpine):
    path = "/v2/hub/alpine/manifests/3.20"
    challenge = client.get(path)
    assert_error(challenge, 401, "UNAUTHORIZED")
    assert 'scope="repository:hub/alpine:pull"' in challenge["WWW-Authenticate"]
    assert_error(client.get(path, **basic("tom", "tom-pw")), 403, "DENIED")
    assert client.get(path, **basic("dora", "dora-pw")).status_code == 200


def test_a_public_proxy_namespace_serves_anonymous_pulls(client, people, alpine):
    Namespace.objects.filter(name="hub").update(public=True)
    assert client.get("/v2/hub/alpine/manifests/3.20").status_code == 200


def test_tokens_never_grant_push_on_a_proxy(client, people):
    granted = get_token(client, "repository:hub/alpine:pull,push", auth=basic("root", "root-pw"))
    assert granted["scope"] == "repository:hub/alpine:pull"


def test_a_superuser_push_is_denied(client, people):
    token = get_token(client, "repository:hub/alpine:pull,push", auth=basic("root", "root-pw"))["token"]
    assert_error(client.post("/v2/hub/alpine/blobs/uploads/", **bearer(token)), 403, "DENIED")
    assert_error(client.post("/v2/hub/alpine/blobs/uploads/", **basic("root", "root-pw")), 403, "DENIED")


def test_the_mirror_is_governed_by_the_proxy_namespace(client, people, alpine, settings):
    settings.REGISTRY_MIRROR_PROXY = "hub"
    token = get_token(client, "repository:library/alpine:pull", auth=basic("dora", "dora-pw"))
    assert token["scope"] == "repository:library/alpine:pull"
    assert client.get("/v2/library/alpine/manifests/3.20", **bearer(token["token"])).status_code == 200
    assert get_token(client, "repository:library/alpine:pull", auth=basic("tom", "tom-pw"))["scope"] == ""
    Namespace.objects.filter(name="hub").update(public=True)  # what a docker daemon's anonymous mirror needs
    anonymous = get_token(client, "repository:library/alpine:pull")["token"]
    assert client.get("/v2/library/alpine/manifests/3.20", **bearer(anonymous)).status_code == 200


def test_an_ns_pull_is_judged_on_the_proxy_not_the_hosted_name(client, people, upstream, alpine, settings):
    settings.REGISTRY_MIRROR_NS = {"docker.io": "hub"}
    upstream.add_image("team/app", "v1", alpine)
    # tom may pull hosted team/app, so his token names it; through ?ns= it reads hub: denied.
    tom = get_token(client, "repository:team/app:pull", auth=basic("tom", "tom-pw"))["token"]
    assert_error(client.get("/v2/team/app/manifests/v1?ns=docker.io", **bearer(tom)), 403, "DENIED")
    # dora's token for team/app grants nothing hosted, yet she may read it through hub…
    dora = get_token(client, "repository:team/app:pull", auth=basic("dora", "dora-pw"))
    assert dora["scope"] == ""
    ok = client.get("/v2/team/app/manifests/v1?ns=docker.io", **bearer(dora["token"]))
    assert ok.status_code == 200 and ok["OCI-Namespace"] == "docker.io"
    # …and that token opens nothing hosted.
    assert_error(client.get("/v2/team/app/manifests/v1", **bearer(dora["token"])), 403, "DENIED")


def test_a_group_pull_needs_rights_on_the_group_only(client, people, registry, alpine, settings):
    group = GroupNamespace.objects.create(name="all")
    GroupMember.objects.create(group=group, position=0, namespace="hub")
    assert_error(client.get("/v2/all/alpine/manifests/3.20", **basic("dora", "dora-pw")), 403, "DENIED")
    Grant.objects.create(namespace=Namespace.objects.create(name="all"), user=people["tom"], level="pull")
    response = client.get("/v2/all/alpine/manifests/3.20", **basic("tom", "tom-pw"))
    assert response.status_code == 200
    for blob in alpine.blobs:
        assert body(client.get(f"/v2/all/alpine/blobs/{blob.digest}", **basic("tom", "tom-pw"))) == blob.data


def test_the_catalog_shows_cached_repositories_to_who_may_pull_them(client, people, alpine):
    client.get("/v2/hub/alpine/manifests/3.20", **basic("dora", "dora-pw"))
    token = get_token(client, "registry:catalog:*", auth=basic("dora", "dora-pw"))["token"]
    assert client.get("/v2/_catalog", **bearer(token)).json()["repositories"] == ["hub/library/alpine"]
    token = get_token(client, "registry:catalog:*", auth=basic("tom", "tom-pw"))["token"]
    assert client.get("/v2/_catalog", **bearer(token)).json()["repositories"] == []
