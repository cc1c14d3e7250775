"""Group namespaces: first member with the manifest wins, blobs from any member, tags
merged, read-only."""
from __future__ import annotations

import pytest

from registry_api.models import GroupMember, GroupNamespace
from tests import builders
from tests.api.support import assert_error

from .conftest import body


@pytest.fixture
def group(hub):
    """`all` = hosted `team`, then the proxy `hub`."""
    group = GroupNamespace.objects.create(name="all")
    GroupMember.objects.create(group=group, position=0, namespace="team")
    GroupMember.objects.create(group=group, position=1, namespace="hub")
    return group


def test_hosted_member_first(client, registry, group, alpine, upstream):
    mine = builders.image("our-alpine")
    registry.push_image("team/alpine", "3.20", mine)
    response = client.get("/v2/all/alpine/manifests/3.20")
    assert response.content == mine.manifest.data
    assert not upstream.seen
    for blob in mine.blobs:
        assert body(client.get(f"/v2/all/alpine/blobs/{blob.digest}")) == blob.data


def test_proxy_member_when_the_hosted_one_lacks_it(client, group, alpine, upstream):
    response = client.get("/v2/all/alpine/manifests/3.20")
    assert response.status_code == 200 and response.content == alpine.manifest.data
    for blob in alpine.blobs:
        assert body(client.get(f"/v2/all/alpine/blobs/{blob.digest}")) == blob.data
    assert client.head(f"/v2/all/alpine/blobs/{alpine.config.digest}").status_code == 200


def test_by_digest_a_member_holding_it_goes_first(client, registry, group, alpine, upstream):
    client.get("/v2/hub/alpine/manifests/3.20")
    before = len(upstream.seen)
    registry.push_image("team/alpine", "other", builders.image("other"))  # team has the name, not the digest
    response = client.get(f"/v2/all/alpine/manifests/{alpine.manifest.digest}")
    assert response.content == alpine.manifest.data and len(upstream.seen) == before


def test_a_blob_is_found_in_any_member(client, registry, group, alpine):
    """The manifest came from team, a layer only the proxy has."""
    shared = alpine.layers[0]
    registry.push_blob("team/alpine", alpine.config)
    registry.push_blob("team/alpine", alpine.layers[1])
    assert body(client.get(f"/v2/all/alpine/blobs/{shared.digest}")) == shared.data


def test_unknown_everywhere(client, group, upstream):
    entry = assert_error(client.get("/v2/all/nothing/manifests/1"), 404, "MANIFEST_UNKNOWN")
    assert "none of the group's members" in entry["message"]
    assert_error(client.get(f"/v2/all/nothing/blobs/{builders.sha256(b'x')}"), 404, "BLOB_UNKNOWN")
    assert_error(client.get("/v2/all/nothing/tags/list"), 404, "NAME_UNKNOWN")


def test_tags_are_merged(client, registry, group, alpine, upstream):
    registry.push_image("team/alpine", "ours", builders.image("ours"))
    tags = client.get("/v2/all/alpine/tags/list").json()
    assert tags == {"name": "all/alpine", "tags": ["3.20", "ours"]}
    page = client.get("/v2/all/alpine/tags/list?n=1")
    assert page.json()["tags"] == ["3.20"] and 'rel="next"' in page["Link"]
    assert client.get("/v2/all/alpine/tags/list?n=1&last=3.20").json()["tags"] == ["ours"]


def test_an_empty_group_knows_nothing(client):
    GroupNamespace.objects.create(name="empty")
    assert_error(client.get("/v2/empty/app/manifests/1"), 404, "NAME_UNKNOWN")


def test_referrers_come_from_the_members(client, registry, group):
    image = builders.image("subject")
    registry.push_image("team/app", "v1", image)
    signature = builders.image("sig", layer_count=1, subject=image.manifest, artifact_type="application/x-sig")
    registry.push_image("team/app", signature.manifest.digest.replace(":", "-"), signature)
    response = client.get(f"/v2/all/app/referrers/{image.manifest.digest}")
    assert [d["digest"] for d in response.json()["manifests"]] == [signature.manifest.digest]
