"""A token limited to one namespace (the portal's tokens page) is no key to the rest of the
registry on the management API either: not to staff operations, even when its user is a
superuser, and not to another namespace's repositories."""
from __future__ import annotations

import pytest

from registry_api.models import Namespace
from registry_api.services.tokens import token_create


@pytest.fixture
def limited(world):
    """The superuser's token, limited to namespace `team`."""
    _, secret = token_create(user=world.users["staff"], name="ci", namespace="team")
    return {"Authorization": f"Bearer {secret}"}


def test_it_cannot_do_what_staff_do(api, limited):
    made = api("POST", "/api/v1/namespaces/", "anonymous", json={"name": "fresh"}, headers=limited)
    assert made.status_code == 403
    assert not Namespace.objects.filter(name="fresh").exists()
    # The same user's unlimited token can.
    assert api("POST", "/api/v1/namespaces/", "staff", json={"name": "fresh"}).status_code == 201


def test_it_administers_its_own_namespace_only(api, limited):
    assert api("GET", "/api/v1/namespaces/team/usage/", "anonymous", headers=limited).status_code == 200
    assert api("GET", "/api/v1/namespaces/other/usage/", "anonymous", headers=limited).status_code in (403, 404)
    assert api("GET", "/api/v1/repositories/team/app/", "anonymous", headers=limited).status_code == 200
    assert api("GET", "/api/v1/repositories/other/box/", "anonymous", headers=limited).status_code == 404
    names = [r["name"] for r in api("GET", "/api/v1/repositories/", "anonymous", headers=limited).json()["results"]]
    assert names and all(name.startswith("team/") for name in names)
