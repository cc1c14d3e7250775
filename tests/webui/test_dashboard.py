"""The dashboard and its live figures (the management API's `/api/v1/summary/`, polled by the
page with its session) show figures over what the visitor may pull."""
from __future__ import annotations

import pytest

from registry_api.models import Blob, Manifest, Tag

from .conftest import Content

pytestmark = pytest.mark.django_db


def _figures(page: str) -> dict[str, str]:
    import re

    return dict(re.findall(r'data-figure="(\w+)">([^<]*)<', page))


def test_anonymous_visitor_sees_public_repositories_only(client, content: Content):
    page = client.get("/").content.decode()
    assert _figures(page)["repositories"] == "1"
    assert "pub/tool:1" in page and "team/app" not in page and "secret/box" not in page


def test_signed_in_reader_sees_what_they_may_pull(as_person, content: Content):
    page = as_person("reader").get("/").content.decode()
    figures = _figures(page)
    # team/app, team/copy, team/multi and the public pub/tool; never secret/box.
    assert figures["repositories"] == "4"
    assert figures["tags"] == str(Tag.objects.exclude(repository__name="secret/box").count())
    assert figures["manifests"] == str(Manifest.objects.exclude(repository__name="secret/box").count())
    assert "secret/box" not in page


def test_summary_counts_each_blob_once(as_person, content: Content):
    data = as_person("root").get("/api/v1/summary/").json()
    # v1's blobs are in team/app and team/copy: counted once.
    assert data["blobs"] == Blob.objects.count()
    assert data["blob_bytes"] == sum(Blob.objects.values_list("size", flat=True))
    assert data["repositories"] == 5 and data["tags"] == Tag.objects.count()
    digest = content.secret.manifest.digest
    pushed_at = Tag.objects.get(repository__name="secret/box").updated_at
    assert data["recent"][0] == {"repository": "secret/box", "tag": "1", "digest": digest,
                                 "pushed_at": pushed_at.isoformat().replace("+00:00", "Z")}
    assert {u["namespace"] for u in data["storage_by_namespace"]} == {"team", "secret", "pub"}
    assert len(data["pushes_per_day"]) == 14 and data["pushes_per_day"][-1]["count"] == Manifest.objects.count()
    assert len(data["version"]) == 16


def test_summary_follows_permissions(client, content: Content):
    data = client.get("/api/v1/summary/").json()
    assert data["repositories"] == 1
    assert [push["repository"] for push in data["recent"]] == ["pub/tool"]
    assert [u["namespace"] for u in data["storage_by_namespace"]] == ["pub"]


def test_the_page_polls_the_management_api(as_person, content: Content):
    page = as_person("root").get("/").content.decode()
    assert 'data-poll="/api/v1/summary/"' in page and 'data-page="/"' in page
    assert as_person("root").get("/api/summary").status_code == 404  # the portal's own JSON is gone


def test_storage_chart_counts_shared_blobs_once_per_namespace(as_person, content: Content):
    from registry_api.models import Repository
    from registry_api.selectors.dashboard import storage_by_namespace

    usage = {u.namespace: u.bytes for u in storage_by_namespace(repositories=Repository.objects.all())}
    team_blobs = {b.digest: len(b.data) for img in (content.v1, content.v2, content.amd64, content.arm64) for b in img.blobs}
    assert usage["team"] == sum(team_blobs.values())
    assert usage["pub"] == sum(len(b.data) for b in content.tool.blobs)
    assert list(usage)[0] == "team"  # largest first


def test_pushes_per_day_counts_todays_manifests(content: Content):
    from registry_api.models import Repository
    from registry_api.selectors.dashboard import pushes_per_day

    days = pushes_per_day(repositories=Repository.objects.all(), days=7)
    assert len(days) == 7 and [d.count for d in days[:-1]] == [0] * 6
    assert days[-1].count == Manifest.objects.count()


def test_page_and_charts_need_no_external_resources(as_person, content: Content):
    page = as_person("root").get("/").content.decode()
    assert "http://" not in page.replace(f"http://testserver", "") and "https://" not in page
    assert "/static/webui/app.js" in page and "/static/webui/app.css" in page
    assert 'id="storage-chart"' in page and 'id="push-chart"' in page


def test_figures_are_cached_per_visibility_class_for_a_few_seconds(as_person, settings, content: Content,
                                                                   django_assert_num_queries):
    """The heavy figures are computed once per class (superusers share one entry), then
    served from the cache until it expires; the visibility check itself still runs."""
    from django.contrib.auth.models import User

    settings.REGISTRY_DASHBOARD_CACHE_SECONDS = 5
    root = as_person("root")
    first = root.get("/api/v1/summary/").json()
    Tag.objects.filter(repository__name="team/app", name="v1").delete()
    User.objects.create_superuser("root2", password="x")
    with django_assert_num_queries(2):  # the session and its user; no figure recomputed
        again = root.get("/api/v1/summary/").json()
    assert again["tags"] == first["tags"]  # cached: the deleted tag still counts
    root.force_login(User.objects.get(username="root2"))
    assert root.get("/api/v1/summary/").json()["tags"] == first["tags"]  # shared with every superuser
    reader = as_person("reader").get("/api/v1/summary/").json()  # another class: computed now
    assert reader["tags"] == Tag.objects.exclude(repository__name="secret/box").count()
    from django.core.cache import cache

    cache.clear()  # what expiry does
    assert as_person("root").get("/api/v1/summary/").json()["tags"] == first["tags"] - 1


def test_the_cache_can_be_turned_off(as_person, settings, content: Content):
    settings.REGISTRY_DASHBOARD_CACHE_SECONDS = 0
    client = as_person("root")
    before = client.get("/api/v1/summary/").json()["tags"]
    Tag.objects.filter(repository__name="team/app", name="v1").delete()
    assert client.get("/api/v1/summary/").json()["tags"] == before - 1


def test_an_empty_registry_has_an_empty_dashboard(as_person, people):
    page = as_person("root").get("/").content.decode()
    assert "Nothing pushed yet." in page and "No blobs stored yet." in page
    assert as_person("root").get("/api/v1/summary/").json()["recent"] == []
