"""The transparent mirror: unprefixed `library/…` pulls (the docker daemon's
registry-mirrors) and `?ns=` pulls (containerd) served from a proxy, beside hosted
namespaces that stay pushable; pushes into a proxy or group are DENIED."""
from __future__ import annotations

import pytest

from registry_api.models import GroupMember, GroupNamespace, Repository
from tests import builders
from tests.api.support import assert_error

from .conftest import body


@pytest.fixture
def mirror(settings, hub):
    settings.REGISTRY_MIRROR_PROXY = "hub"
    return hub


def test_library_names_are_pulled_through_the_mirror(client, mirror, alpine):
    response = client.get("/v2/library/alpine/manifests/3.20")
    assert response.status_code == 200 and response.content == alpine.manifest.data
    assert "OCI-Namespace" not in response
    for blob in alpine.blobs:
        assert body(client.get(f"/v2/library/alpine/blobs/{blob.digest}")) == blob.data
    # One cache for both spellings: the daemon's and an explicit hub/ pull.
    assert list(Repository.objects.values_list("name", flat=True)) == ["hub/library/alpine"]
    assert client.get("/v2/hub/alpine/manifests/3.20").status_code == 200


def test_other_namespaces_stay_hosted_and_pushable(client, registry, mirror, upstream):
    image = builders.image("team-app")
    registry.push_image("team/app", "v1", image)
    assert client.get("/v2/team/app/manifests/v1").content == image.manifest.data
    assert_error(client.get("/v2/team/other/manifests/v1"), 404, "NAME_UNKNOWN")
    assert not upstream.seen


def test_ns_is_honoured_and_echoed(client, mirror, alpine):
    response = client.get("/v2/library/alpine/manifests/3.20?ns=docker.io")
    assert response.status_code == 200 and response["OCI-Namespace"] == "docker.io"
    blob = client.get(f"/v2/library/alpine/blobs/{alpine.config.digest}?ns=docker.io")
    assert blob["OCI-Namespace"] == "docker.io" and body(blob) == alpine.config.data


def test_ns_routes_any_name_to_its_proxy(client, hub, upstream, settings):
    settings.REGISTRY_MIRROR_NS = {"docker.io": "hub"}
    image = builders.image("bitnami")
    upstream.add_image("bitnami/redis", "7", image)
    response = client.get("/v2/bitnami/redis/manifests/7?ns=docker.io")
    assert response.status_code == 200 and response.content == image.manifest.data
    assert response["OCI-Namespace"] == "docker.io"
    missing = client.get("/v2/bitnami/none/manifests/7?ns=docker.io")
    assert_error(missing, 404, "MANIFEST_UNKNOWN")
    assert missing["OCI-Namespace"] == "docker.io"  # on errors too


def test_an_unmapped_ns_is_ignored(client, registry, mirror):
    image = builders.image("team-app")
    registry.push_image("team/app", "v1", image)
    response = client.get("/v2/team/app/manifests/v1?ns=quay.io")
    assert response.status_code == 200 and "OCI-Namespace" not in response


def test_unhosted_mode_mirrors_unknown_namespaces(client, registry, mirror, upstream, settings):
    settings.REGISTRY_MIRROR_UNHOSTED = True
    image = builders.image("bitnami")
    upstream.add_image("bitnami/redis", "7", image)
    registry.push_image("team/app", "v1", builders.image("team-app"))
    assert client.get("/v2/bitnami/redis/manifests/7").content == image.manifest.data
    assert_error(client.get("/v2/team/missing/manifests/v1"), 404, "NAME_UNKNOWN")
    assert not [s for s in upstream.seen if "team" in s.path]
    registry.push_image("newteam/app", "v1", builders.image("new"))  # a new namespace is pushable


@pytest.mark.parametrize("name", ["hub/library/alpine", "hub/alpine", "library/alpine", "all/app"])
def test_pushes_and_deletes_into_proxies_and_groups_are_denied(client, mirror, name):
    group = GroupNamespace.objects.create(name="all")
    GroupMember.objects.create(group=group, namespace="hub")
    entry = assert_error(client.post(f"/v2/{name}/blobs/uploads/"), 403, "DENIED")
    assert "read-only" in entry["message"]
    manifest = builders.image("x").manifest
    put = client.put(f"/v2/{name}/manifests/v1", manifest.data, content_type=manifest.media_type)
    assert_error(put, 403, "DENIED")
    assert_error(client.delete(f"/v2/{name}/manifests/v1"), 403, "DENIED")
    assert_error(client.delete(f"/v2/{name}/blobs/{manifest.digest}"), 403, "DENIED")
    assert not Repository.objects.exists()


def test_mounting_from_a_proxy_cache_into_a_hosted_repository(client, mirror, alpine):
    body(client.get(f"/v2/hub/alpine/blobs/{alpine.layers[0].digest}"))
    response = client.post(f"/v2/team/app/blobs/uploads/?mount={alpine.layers[0].digest}&from=hub/library/alpine")
    assert response.status_code == 201
