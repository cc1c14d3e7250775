"""The admin's index and side bar are grouped by task, under the registry's name."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User

from registry_api.admin_site import SECTIONS

pytestmark = pytest.mark.django_db


def section_titles(html: str) -> list[str]:
    return re.findall(r'<caption>\s*<a href="[^"]*" class="section"[^>]*>([^<]+)</a>', html)


def test_index_shows_the_sections_in_order(root_client):
    html = root_client.get("/admin/").content.decode()
    assert section_titles(html) == ["Images", "Access", "Housekeeping", "Proxy and groups", "Events",
                                   "Replication"]


def test_every_registered_model_is_in_a_named_section(root_client):
    apps = root_client.get("/admin/").context["app_list"]
    placed = {model["object_name"]: app["name"] for app in apps for model in app["models"]}
    assert "Other" not in placed.values(), f"models in no section: {placed}"
    for title, _slug, names in SECTIONS:
        for name in names:
            assert placed.get(name) == title, f"{name} is under {placed.get(name)}, not {title}"


def test_images_section_lists_the_image_models(root_client):
    apps = {app["name"]: app for app in root_client.get("/admin/").context["app_list"]}
    names = [model["name"] for model in apps["Images"]["models"]]
    assert names[:4] == ["Repositories", "Tags", "Manifests", "Blobs"]


def test_header_names_the_registry_and_links_to_the_portal(root_client):
    html = root_client.get("/admin/").content.decode()
    assert "Docker Registry Manager" in html
    assert "Django administration" not in html
    assert re.search(r'<a href="/">View site</a>', html)


def test_side_bar_is_grouped_too(root_client):
    html = root_client.get("/admin/registry_api/tag/").content.decode()
    assert "Proxy and groups" in html and "Housekeeping" in html


def test_staff_see_only_sections_with_models_they_may_view(client):
    user = User.objects.create_user("looker", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client.force_login(user)
    apps = client.get("/admin/").context["app_list"]
    assert [app["name"] for app in apps] == ["Events"]
    assert [model["object_name"] for model in apps[0]["models"]] == ["AuditEvent"]


def test_one_apps_own_page_stays_djangos(root_client):
    apps = root_client.get("/admin/registry_api/").context["app_list"]
    assert [app["app_label"] for app in apps] == ["registry_api"]
