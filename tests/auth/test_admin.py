"""Staff manage users, groups, namespaces, grants and tokens in the Django admin."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages

from registry_api.auth.credentials import TOKEN_PREFIX, token_hash
from registry_api.models import AccessToken, Grant, Namespace, Repository

from .conftest import basic, bearer, get_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", [
    "/admin/auth/user/", "/admin/auth/group/", "/admin/registry_api/namespace/", "/admin/registry_api/namespace/add/",
    "/admin/registry_api/grant/", "/admin/registry_api/grant/add/", "/admin/registry_api/accesstoken/",
    "/admin/registry_api/accesstoken/add/", "/admin/registry_api/repository/",
    "/admin/registry_api/robotaccount/", "/admin/registry_api/robotaccount/add/",
])
def test_admin_pages_open_for_a_superuser(client, users, path):
    client.force_login(users["root"])
    assert client.get(path).status_code == 200


def test_admin_is_closed_to_non_staff(client, users):
    client.force_login(users["alice"])
    assert client.get("/admin/registry_api/accesstoken/").status_code == 302


def test_a_token_made_in_the_admin_is_shown_once_and_works_for_docker_login(client, users):
    client.force_login(users["root"])
    response = client.post("/admin/registry_api/accesstoken/add/", {
        "user": users["alice"].pk, "name": "ci", "read_only": "on", "expires_at_0": "", "expires_at_1": "",
    }, follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    secret = next(m for m in messages if "again: " in m).split("again: ", 1)[1].split()[0]
    assert secret.startswith(TOKEN_PREFIX) and sum(secret in m for m in messages) == 1
    token = AccessToken.objects.get()
    assert token.key_hash == token_hash(secret) and token.read_only and token.prefix == secret[: len(token.prefix)]
    assert secret not in client.get(f"/admin/registry_api/accesstoken/{token.pk}/change/").content.decode()
    client.logout()
    assert client.get("/v2/team/app/tags/list", **basic("alice", secret)).status_code == 404  # allowed


def test_revoke_action(client, users):
    from registry_api.auth.credentials import access_token_create

    token, secret = access_token_create(user=users["alice"], name="ci")
    client.force_login(users["root"])
    client.post("/admin/registry_api/accesstoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked
    client.logout()
    assert client.get("/v2/team/app/tags/list", **basic("alice", secret)).status_code == 401


def test_grant_made_in_the_admin_takes_effect(client, users):
    client.force_login(users["root"])
    response = client.post("/admin/registry_api/grant/add/", {
        "namespace": Namespace.objects.get(name="other").pk, "user": users["bob"].pk, "level": "pull",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Grant.objects.filter(namespace__name="other", user=users["bob"]).exists()
    client.logout()
    assert client.get("/v2/other/x/tags/list", **basic("bob", "bob-pw")).status_code == 404  # allowed now


def test_denial_is_the_same_for_existing_and_missing_repositories(client, users, settings):
    from registry_api.models import Repository

    Repository.objects.create(name="team/exists")
    existing = client.get("/v2/team/exists/tags/list", **basic("carol", "carol-pw"))
    missing = client.get("/v2/team/missing/tags/list", **basic("carol", "carol-pw"))
    assert existing.status_code == missing.status_code == 403
    assert existing.json()["errors"][0]["code"] == missing.json()["errors"][0]["code"] == "DENIED"
    assert existing.json()["errors"][0]["message"] == missing.json()["errors"][0]["message"]


class _FormFields(HTMLParser):
    """The fields a browser would send for the admin's change form, as rendered."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") != "checkbox" or "checked" in attrs:
                self.data[name] = attrs.get("value") or ("on" if attrs.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag) -> None:
        if tag == "select":
            self._select = None


def test_grant_inline_and_public_flag_edited_on_a_repository_take_effect(client, users):
    repository = Repository.objects.create(name="other/tool")
    assert client.post("/v2/other/tool/blobs/uploads/", **basic("bob", "bob-pw")).status_code == 403
    assert client.get("/v2/other/tool/tags/list").status_code == 401
    client.force_login(users["root"])
    path = f"/admin/registry_api/repository/{repository.pk}/change/"
    fields = _FormFields()
    fields.feed(client.get(path).content.decode())
    data = {**fields.data, "public": "on", "grants-0-user": str(users["bob"].pk), "grants-0-level": "push"}
    response = client.post(path, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    client.logout()
    assert client.post("/v2/other/tool/blobs/uploads/", **basic("bob", "bob-pw")).status_code == 202
    anonymous = get_token(client, "repository:other/tool:pull")
    assert client.get("/v2/other/tool/tags/list", **bearer(anonymous["token"])).status_code == 200
