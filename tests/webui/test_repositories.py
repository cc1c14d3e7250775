"""Repository list (search, namespace, sort, pages), one repository, and the tag compare."""
from __future__ import annotations

import re

import pytest
from django.utils import timezone

from registry_api.models import Blob, Manifest, Repository, RepositoryBlob, Tag
from tests import builders

from .conftest import Content, image_size

pytestmark = pytest.mark.django_db


def _names(page: str) -> list[str]:
    table = page.split('id="repository-table"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<a href="/repositories/[^"]+/">([^<]+)</a>', table)


def test_list_shows_visible_repositories_with_figures(as_person, content: Content):
    page = as_person("reader").get("/repositories/").content.decode()
    assert _names(page) == ["pub/tool", "team/app", "team/copy", "team/multi"]
    row = page.split(">team/app</a>", 1)[1].split("</tr>", 1)[0]
    v1_v2_blobs = sum(len(b.data) for img in (content.v1, content.v2) for b in img.blobs)
    assert '<td class="num">2</td>' in row  # tags
    assert f">{_filesize(v1_v2_blobs)}<" in row and "KiB" in _filesize(v1_v2_blobs)
    assert "just now</time>" in row


def _filesize(n: int) -> str:
    from registry_api.lib.units import format_bytes

    return format_bytes(n)


def test_search_matches_part_of_a_name(as_person, content: Content):
    client = as_person("root")
    assert _names(client.get("/repositories/", {"q": "COP"}).content.decode()) == ["team/copy"]
    assert _names(client.get("/repositories/", {"q": "nothing-like-it"}).content.decode()) == []


def test_namespace_filter_and_its_choices(as_person, content: Content):
    client = as_person("root")
    page = client.get("/repositories/", {"namespace": "team"}).content.decode()
    assert _names(page) == ["team/app", "team/copy", "team/multi"]
    assert re.findall(r'<option value="(\w+)"', page.split('id="namespace"')[1].split("</select>")[0]) == [
        "pub", "secret", "team",
    ]
    reader_page = as_person("reader").get("/repositories/").content.decode()
    assert 'value="secret"' not in reader_page


@pytest.mark.parametrize("sort, expected", [
    ("-name", ["team/multi", "team/copy", "team/app", "secret/box", "pub/tool"]),
    ("-tags", ["team/multi", "team/app", "pub/tool", "secret/box", "team/copy"]),
    ("-pushed", ["secret/box", "pub/tool", "team/multi", "team/copy", "team/app"]),
    ("bogus", ["pub/tool", "secret/box", "team/app", "team/copy", "team/multi"]),
])
def test_sort(as_person, content: Content, sort, expected):
    assert _names(as_person("root").get("/repositories/", {"sort": sort}).content.decode()) == expected


def test_sort_by_size(as_person, content: Content):
    names = _names(as_person("root").get("/repositories/", {"sort": "-size"}).content.decode())
    sizes = [sum(Repository.objects.get(name=n).blob_links.values_list("blob__size", flat=True)) for n in names]
    assert sizes == sorted(sizes, reverse=True)


def _many_repositories(count: int, tags_each: int) -> None:
    blob = Blob.objects.create(digest="sha256:" + "b" * 64, size=10)
    repositories = Repository.objects.bulk_create([Repository(name=f"bulk/r{i:05d}") for i in range(count)])
    RepositoryBlob.objects.bulk_create([RepositoryBlob(repository=r, blob=blob) for r in repositories])
    manifests = Manifest.objects.bulk_create([
        Manifest(repository=r, digest="sha256:" + f"{r.pk:064x}", media_type="application/vnd.oci.image.manifest.v1+json",
                 payload=b"{}", size=2)
        for r in repositories
    ])
    Tag.objects.bulk_create([
        Tag(repository=m.repository, name=f"t{j}", manifest=m) for m in manifests for j in range(tags_each)
    ])


@pytest.mark.parametrize("sort", ["name", "-tags", "-size", "-pushed"])
def test_list_pages_in_the_database_with_a_fixed_number_of_queries(as_person, people, sort, django_assert_max_num_queries):
    _many_repositories(120, 3)
    client = as_person("root")
    with django_assert_max_num_queries(8):
        page = client.get("/repositories/", {"sort": sort, "page": 2}).content.decode()
    assert len(_names(page)) == 50 and "Page 2 of 3" in page
    client = as_person("reader")  # grants make the visibility filter a few queries longer
    with django_assert_max_num_queries(10):
        assert len(_names(client.get("/repositories/", {"q": "r000", "sort": sort}).content.decode())) == 0


def test_pages_keep_the_filters(as_person, people):
    _many_repositories(60, 1)
    page = as_person("root").get("/repositories/", {"q": "bulk", "sort": "-name"}).content.decode()
    assert 'href="?q=bulk&amp;sort=-name&amp;page=2"' in page


def test_repository_page_shows_tags_digests_sizes_and_pull_commands(as_person, content: Content):
    page = as_person("reader").get("/repositories/team/app/").content.decode()
    row = page.split('data-tag="v1"', 1)[1].split("</tr>", 1)[0]
    digest = content.v1.manifest.digest
    assert f"<code>{digest[:19]}</code>" in row and f'data-copy="{digest}"' in row
    assert f'title="{image_size(content.v1)} bytes"' in row
    assert 'data-copy="docker pull testserver/team/app:v1"' in row
    assert 'id="tag-count">2<' in page
    assert page.index('data-tag="v2"') < page.index('data-tag="v1"')  # newest push first


def test_sizes_total_and_unique_to_the_repository(as_person, content: Content):
    page = as_person("reader").get("/repositories/team/app/").content.decode()
    total = sum(len(b.data) for img in (content.v1, content.v2) for b in img.blobs)
    unique = sum(len(b.data) for b in content.v2.blobs)  # v1's blobs are in team/copy too
    assert f'id="size-total" title="{total} bytes"' in page
    assert f'id="size-unique" title="{unique} bytes"' in page


def _platforms(row: str) -> list[str]:
    return re.findall(r'<span class="platform[^"]*"[^>]*>([^<]+)</span>', row)


def test_index_tags_show_platforms_and_the_size_of_their_images(as_person, content: Content):
    page = as_person("reader").get("/repositories/team/multi/").content.decode()
    row = page.split('data-tag="latest"', 1)[1].split("</tr>", 1)[0]
    assert _platforms(row) == ["linux/amd64", "linux/arm64"]
    assert f'title="{image_size(content.amd64, content.arm64)} bytes"' in row  # shared blobs once


def test_an_index_missing_a_platform_says_so(as_person, content: Content):
    Manifest.objects.filter(repository__name="team/multi", digest=content.arm64.manifest.digest).delete()
    page = as_person("reader").get("/repositories/team/multi/").content.decode()
    row = page.split('data-tag="latest"', 1)[1].split("</tr>", 1)[0]
    assert _platforms(row) == ["linux/amd64", "linux/arm64 (missing)"]
    assert 'class="platform missing"' in row and "is not in this registry" in row
    assert f'title="{image_size(content.amd64)} bytes"' in row  # only what is stored


def test_no_tag_is_bigger_than_its_repository(as_person, content: Content):
    for name in ("team/app", "team/multi", "team/copy"):
        page = as_person("reader").get(f"/repositories/{name}/").content.decode()
        total = int(re.search(r'id="size-total" title="(\d+) bytes"', page).group(1))
        table = page.split('id="tag-table"', 1)[1].split("</table>", 1)[0]
        sizes = [int(n) for n in re.findall(r'data-label="Size" title="(\d+) bytes"', table)]
        assert sizes and max(sizes) <= total, name
    assert "manifests themselves are small JSON documents that are not counted" in page


def test_tag_columns_and_build_time(client, settings, as_person, content: Content):
    """"Built" is the image config's `created`, not when the manifest reached us."""
    from tests.api.support import Registry

    built = builders.image("dated", created="2021-03-04T05:06:07.123456789Z")
    settings.REGISTRY_AUTH_ENABLED = False
    Registry(client).push_image("team/app", "dated", built)
    settings.REGISTRY_AUTH_ENABLED = True
    page = as_person("reader").get("/repositories/team/app/").content.decode()
    head = page.split('id="tag-table"', 1)[1].split("</thead>", 1)[0]
    assert re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', head) == [
        "Tag", "Digest", "Size", "Platforms", "Built", "Pushed", "Actions",
    ]
    row = page.split('data-tag="dated"', 1)[1].split("</tr>", 1)[0]
    assert '<time datetime="2021-03-04T05:06:07.123456+00:00"' in row and ">2021-03-04</time>" in row
    v1 = page.split('data-tag="v1"', 1)[1].split("</tr>", 1)[0]
    assert 'class="when blank" data-label="Built">—</td>' in v1  # its config says nothing
    assert Manifest.objects.get(digest=built.manifest.digest).image_created.year == 2021


def test_tags_are_searched_on_the_server_and_paginated(as_person, content: Content):
    repository = Repository.objects.get(name="team/app")
    v2 = Manifest.objects.get(repository=repository, digest=content.v2.manifest.digest)
    Tag.objects.bulk_create([Tag(repository=repository, name=f"build-{i:03d}", manifest=v2) for i in range(70)])
    client = as_person("reader")
    page = client.get("/repositories/team/app/", {"q": "build-0"}).content.decode()
    table = page.split('id="tag-table"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr data-tag=") == 50 and 'data-tag="v1"' not in table
    assert "70 tags match “build-0”." in page and 'id="tag-count">72<' in page
    assert 'href="?q=build-0&amp;page=2"' in page
    second = client.get("/repositories/team/app/", {"q": "build-0", "page": 2}).content.decode()
    assert second.split('id="tag-table"', 1)[1].split("</table>", 1)[0].count("<tr data-tag=") == 20
    none = client.get("/repositories/team/app/", {"q": "nothing"}).content.decode()
    assert "No tag matches “nothing”." in none


def test_tag_names_for_the_compare_form_come_from_every_tag(as_person, content: Content):
    repository = Repository.objects.get(name="team/app")
    v2 = Manifest.objects.get(repository=repository, digest=content.v2.manifest.digest)
    Tag.objects.bulk_create([Tag(repository=repository, name=f"old-{i:03d}", manifest=v2) for i in range(80)])
    client = as_person("reader")
    page = client.get("/repositories/team/app/").content.decode()
    assert 'data-tag-suggest="/api/v1/repositories/team/app/-/tags/"' in page
    # What the form's script asks with the portal session (static/webui/app.js).
    found = client.get("/api/v1/repositories/team/app/-/tags/", {"q": "v", "sort": "-pushed", "page_size": 20}).json()
    assert sorted(t["name"] for t in found["results"]) == ["v1", "v2"] and found["count"] == 2
    every = client.get("/api/v1/repositories/team/app/-/tags/", {"sort": "-pushed", "page_size": 20}).json()
    assert len(every["results"]) == 20 and every["count"] == 82
    assert as_person("anonymous").get("/api/v1/repositories/team/app/-/tags/").status_code == 401


def test_compare_defaults_skip_artifact_tags(client, settings, as_person, content: Content):
    from tests.api.support import Registry

    signature = builders.image("sig", layer_count=1, subject=content.v2.manifest,
                               artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json")
    settings.REGISTRY_AUTH_ENABLED = False
    Registry(client).push_image("team/app", "sha256-fake.sig", signature)
    settings.REGISTRY_AUTH_ENABLED = True
    page = as_person("reader").get("/repositories/team/app/").content.decode()
    assert 'id="compare-a" name="a" list="tag-names" required autocomplete="off" value="v1"' in page
    assert 'id="compare-b" name="b" list="tag-names" required autocomplete="off" value="v2"' in page
    row = page.split('data-tag="sha256-fake.sig"', 1)[1].split("</tr>", 1)[0]
    assert 'class="muted truncate" title="application/vnd.dev.cosign.artifact.sig.v1+json"' in row
    form = as_person("reader").get("/repositories/team/app/-/compare/").content.decode()
    assert 'name="a" value="v1"' in form and 'name="b" value="v2"' in form


def test_untagged_manifests_are_listed_and_paginated(client, settings, as_person, content: Content):
    from tests.api.support import Registry

    settings.REGISTRY_AUTH_ENABLED = False
    registry = Registry(client)
    pushed = [builders.image(f"loose{i}", layer_count=1) for i in range(22)]
    for image in pushed:
        registry.push_image("team/app", image.manifest.digest, image)
    settings.REGISTRY_AUTH_ENABLED = True
    page = as_person("deleter").get("/repositories/team/app/").content.decode()
    table = page.split('id="untagged-table"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr data-digest=") == 20 and "pushed by digest" in table
    newest = pushed[-1].manifest.digest
    assert f'href="/repositories/team/app/manifests/{newest}/delete/"' in table
    assert 'href="?untagged=2#untagged-heading"' in page
    second = as_person("deleter").get("/repositories/team/app/", {"untagged": 2}).content.decode()
    assert second.split('id="untagged-table"', 1)[1].split("</table>", 1)[0].count("<tr data-digest=") == 2
    Tag.objects.filter(repository__name="team/multi", name="arm64").delete()
    multi = as_person("reader").get("/repositories/team/multi/").content.decode()
    assert "index image" in multi.split('id="untagged-table"', 1)[1].split("</table>", 1)[0]


def test_unknown_and_invalid_names_are_404(as_person, content: Content):
    client = as_person("root")
    assert client.get("/repositories/team/nothing/").status_code == 404
    assert client.get("/repositories/Team/App/").status_code == 404
    assert client.get("/repositories/team/app/manifests/sha256:abc/").status_code == 404


def test_compare_two_tags(as_person, content: Content):
    page = as_person("reader").get("/repositories/team/app/-/compare/", {"a": "v1", "b": "v2"}).content.decode()
    assert 'id="layers-shared">0<' in page and 'id="layers-removed">2<' in page and 'id="layers-added">3<' in page
    # The builders label each image: the label differs, the rest of the config is the same.
    assert "label <code>test.label</code></th><td>v1</td><td>v2</td>" in page


def test_compare_a_tag_with_itself_and_with_an_index(as_person, content: Content):
    client = as_person("reader")
    same = client.get("/repositories/team/multi/-/compare/", {"a": "amd64", "b": "latest"}).content.decode()
    assert 'id="layers-shared">2<' in same and 'id="config-identical"' in same and '"platform-b">linux/amd64<' in same
    assert '<option value="linux/amd64" selected>' in same and '<option value="linux/arm64">' in same
    missing = client.get("/repositories/team/app/-/compare/", {"a": "v1", "b": "nope"}, follow=True).content.decode()
    assert "Cannot compare v1 and nope" in missing


def test_compare_an_index_on_the_platform_chosen(as_person, content: Content):
    page = as_person("reader").get(
        "/repositories/team/multi/-/compare/", {"a": "amd64", "b": "latest", "bp": "linux/arm64"},
    ).content.decode()
    assert '"platform-b">linux/arm64<' in page and '<option value="linux/arm64" selected>' in page
    assert 'id="layers-shared">0<' in page and "<th scope=\"row\">platform</th>" in page


def test_last_push_is_the_newest_tag_move(as_person, content: Content):
    Tag.objects.filter(repository__name="team/app", name="v1").update(updated_at=timezone.now() + timezone.timedelta(days=1))
    names = _names(as_person("root").get("/repositories/", {"sort": "-pushed"}).content.decode())
    assert names[0] == "team/app"


def test_tag_sizes_follow_their_manifest_not_row_ids(as_person, content: Content):
    repository = Repository.objects.get(name="team/app")
    v2 = Manifest.objects.get(repository=repository, digest=content.v2.manifest.digest)
    # More tags than manifests: tag ids and manifest ids no longer line up.
    Tag.objects.bulk_create([Tag(repository=repository, name=f"alias{i}", manifest=v2) for i in range(4)])
    page = as_person("reader").get("/repositories/team/app/").content.decode()
    for tag, image in [("v1", content.v1), ("v2", content.v2)] + [(f"alias{i}", content.v2) for i in range(4)]:
        row = page.split(f'data-tag="{tag}"', 1)[1].split("</tr>", 1)[0]
        assert f'title="{image_size(image)} bytes"' in row, tag
