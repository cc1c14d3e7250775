"""Quotas under access control: the answer never depends on blobs the caller cannot read."""
from __future__ import annotations

import pytest

from registry_api.models import Grant, Namespace, Repository
from tests.api.support import assert_error, sha256

from .conftest import basic

pytestmark = pytest.mark.django_db

SECRET = b"s" * 2000


@pytest.fixture
def quota(client, users):
    """Namespace `team` (quota 2500) holds 2000 bytes in team/secret; dave may push to
    team/app only, so he cannot read team/secret."""
    Namespace.objects.filter(name="team").update(quota_bytes=2500)
    location = client.post("/v2/team/secret/blobs/uploads/", **basic("root", "root-pw"))["Location"]
    stored = client.put(f"{location}?digest={sha256(SECRET)}", SECRET, content_type="application/octet-stream",
                        **basic("root", "root-pw"))
    assert stored.status_code == 201
    dave = users["alice"].__class__.objects.create_user("dave", password="dave-pw")
    Grant.objects.create(repository=Repository.objects.create(name="team/app"), user=dave, level="push")
    return dave


def single_post(client, user: str, digest: str, body: bytes):
    return client.post(f"/v2/team/app/blobs/uploads/?digest={digest}", body,
                       content_type="application/octet-stream", **basic(user, f"{user}-pw"))


def test_a_digest_held_where_the_caller_cannot_read_is_counted_as_unknown(client, quota):
    garbage = b"g" * 2000
    held_elsewhere = single_post(client, "dave", sha256(SECRET), garbage)
    unknown = single_post(client, "dave", sha256(b"never pushed"), garbage)
    first, second = assert_error(held_elsewhere, 403, "DENIED"), assert_error(unknown, 403, "DENIED")
    assert first["message"] == second["message"]
    # The caller may push into the namespace: its totals are theirs to see, to act on.
    assert "2.0 KiB of 2.4 KiB used" in first["message"] and first["detail"]["used_bytes"] == 2000


def test_a_digest_the_caller_can_read_is_free(client, quota):
    # alice may push to (so read) all of `team`: linking team/secret's blob costs nothing.
    assert single_post(client, "alice", sha256(SECRET), SECRET).status_code == 201
    mounted = client.post(f"/v2/team/app/blobs/uploads/?mount={sha256(SECRET)}&from=team/secret",
                          **basic("alice", "alice-pw"))
    assert mounted.status_code == 201
