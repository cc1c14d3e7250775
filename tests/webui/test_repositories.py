"""Repository list (search, namespace, sort, pages), one repository, and the tag compare."""
from __future__ import annotations

import re

import pytest
from django.utils import timezone

from registry_api.models import Blob, Manifest, Repository, RepositoryBlob, Tag

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
    assert f">{_filesize(v1_v2_blobs)}<" in row
    assert "just now</time>" in row


def _filesize(n: int) -> str:
    from django.template.defaultfilters import filesizeformat

    return filesizeformat(n)


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


def test_index_tags_show_platforms_and_the_size_of_their_images(as_person, content: Content):
    page = as_person("reader").get("/repositories/team/multi/").content.decode()
    row = page.split('data-tag="latest"', 1)[1].split("</tr>", 1)[0]
    assert "linux/amd64, linux/arm64" in row
    expected = len(content.index.data) + image_size(content.amd64) + image_size(content.arm64)
    assert f'title="{expected} bytes"' in row


def test_repository_page_queries_do_not_grow_with_tags(as_person, content: Content, django_assert_max_num_queries):
    repository = Repository.objects.get(name="team/multi")
    index = Manifest.objects.get(repository=repository, digest=content.index.digest)
    Tag.objects.bulk_create([Tag(repository=repository, name=f"extra{i}", manifest=index) for i in range(60)])
    client = as_person("reader")
    with django_assert_max_num_queries(12):
        page = client.get("/repositories/team/multi/").content.decode()
    assert page.count("linux/amd64, linux/arm64") == 50


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
    assert 'id="layers-shared">2<' in same and 'id="config-identical"' in same and "(linux/amd64)" in same
    missing = client.get("/repositories/team/app/-/compare/", {"a": "v1", "b": "nope"}, follow=True).content.decode()
    assert "Cannot compare v1 and nope" in missing


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
