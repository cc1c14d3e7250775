"""Proxies and groups in the admin (add with an encrypted password, counters, members)
and in the portal (the /proxies/ page, badges, the cache note on a repository page)."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from registry_api.models import GroupMember, GroupNamespace, Grant, Namespace, ProxyNamespace
from registry_api.proxy.credentials import password_decrypt
from registry_api.services.routing import route


@pytest.fixture
def root(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_superuser("root", password="root-pw")
    client.login(username="root", password="root-pw")
    return client


def _add_proxy(root, **fields):
    data = {"name": "hub", "upstream_url": "https://registry-1.docker.io", "library_default": "on",
            "username": "me", "password": "s3cret", "password_env": "", "manifest_ttl": "600",
            "expire_after_days": "", **fields}
    return root.post("/admin/registry_api/proxynamespace/add/", data)


def test_adding_a_proxy_stores_the_password_encrypted(root):
    response = _add_proxy(root)
    assert response.status_code == 302, response.content.decode()[:2000]
    proxy = ProxyNamespace.objects.get(name="hub")
    assert proxy.password_encrypted and "s3cret" not in proxy.password_encrypted
    assert password_decrypt(proxy.password_encrypted) == "s3cret"
    assert route("hub/alpine").kind == "proxy"  # in effect at once
    page = root.get(f"/admin/registry_api/proxynamespace/{proxy.pk}/change/").content.decode()
    assert "s3cret" not in page and "yes (encrypted)" in page


def test_editing_keeps_the_password_unless_a_new_one_is_given(root):
    _add_proxy(root)
    proxy = ProxyNamespace.objects.get(name="hub")
    before = proxy.password_encrypted
    data = {"upstream_url": "https://registry-1.docker.io", "username": "me", "password": "",
            "password_env": "", "manifest_ttl": "60", "expire_after_days": "7"}
    assert root.post(f"/admin/registry_api/proxynamespace/{proxy.pk}/change/", data).status_code == 302
    proxy.refresh_from_db()
    assert proxy.password_encrypted == before and proxy.manifest_ttl == 60
    data["clear_password"] = "on"
    root.post(f"/admin/registry_api/proxynamespace/{proxy.pk}/change/", data)
    proxy.refresh_from_db()
    assert proxy.password_encrypted == ""


def test_a_namespace_with_hosted_repositories_cannot_become_a_proxy(root, registry):
    from tests import builders

    registry.push_image("hub/app", "v1", builders.image("hosted"))
    response = _add_proxy(root)
    assert response.status_code == 200 and "holds hosted repositories" in response.content.decode()
    assert not ProxyNamespace.objects.exists()


def test_password_and_environment_variable_are_exclusive(root):
    response = _add_proxy(root, password_env="HUB_PASSWORD")
    assert response.status_code == 200 and "not both" in response.content.decode()


def test_groups_with_ordered_members(root, hub):
    data = {"name": "all", "description": "everything",
            "members-TOTAL_FORMS": "2", "members-INITIAL_FORMS": "0",
            "members-0-position": "1", "members-0-namespace": "hub",
            "members-1-position": "0", "members-1-namespace": "team"}
    assert root.post("/admin/registry_api/groupnamespace/add/", data).status_code == 302
    assert [m.name for m in route("all/app").members] == ["team/app", "hub/app"]
    listing = root.get("/admin/registry_api/groupnamespace/").content.decode()
    assert "team → hub" in listing
    nested = {**data, "name": "outer", "members-TOTAL_FORMS": "1", "members-0-namespace": "all"}
    assert "do not nest" in root.post("/admin/registry_api/groupnamespace/add/", nested).content.decode()


def test_admin_lists_counters_and_resets_them(root, hub):
    ProxyNamespace.objects.filter(pk=hub.pk).update(cache_hits=3, cache_misses=1)
    listing = root.get("/admin/registry_api/proxynamespace/").content.decode()
    assert "75%" in listing and hub.upstream_url in listing
    root.post("/admin/registry_api/proxynamespace/", {"action": "reset_counters", "_selected_action": [hub.pk]})
    hub.refresh_from_db()
    assert (hub.cache_hits, hub.cache_misses) == (0, 0)


def test_portal_proxies_page_and_badges(client, root, hub, alpine):
    GroupMember.objects.create(group=GroupNamespace.objects.create(name="all"), namespace="hub")
    client.get("/v2/hub/alpine/manifests/3.20")
    page = root.get("/proxies/").content.decode()
    assert 'data-proxy="hub"' in page and hub.upstream_url in page and 'data-group="all"' in page
    assert '<td class="num misses">1</td>' in page
    listing = root.get("/repositories/").content.decode()
    assert 'class="badge proxy"' in listing
    detail = root.get("/repositories/hub/library/alpine/").content.decode()
    assert 'id="proxy-note"' in detail and "A pull-through cache of" in detail


def test_portal_proxies_page_shows_what_the_visitor_may_pull(client, settings, hub):
    settings.REGISTRY_AUTH_ENABLED = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    ProxyNamespace.objects.create(name="private", upstream_url="https://example.invalid")
    Namespace.objects.create(name="hub", public=True)
    page = client.get("/proxies/").content.decode()
    assert 'data-proxy="hub"' in page and 'data-proxy="private"' not in page
    reader = User.objects.create_user("reader", password="reader-pw")
    Grant.objects.create(namespace=Namespace.objects.create(name="private"), user=reader, level="pull")
    client.login(username="reader", password="reader-pw")
    assert 'data-proxy="private"' in client.get("/proxies/").content.decode()
