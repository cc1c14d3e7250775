"""GET /v2/<name>/tags/list: bytewise order, n/last pagination, Link headers."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import builders

from .support import assert_error

NAME = "library/app"
TAGS = ["latest", "V2", "v1.0", "a", "B", "Z", "_under", "9", "v1.10", "v1.9", "zz-top"]
LINK_RE = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


@pytest.fixture
def tagged(client, registry):
    img = builders.image("tags")
    for blob in img.blobs:
        registry.push_blob(NAME, blob)
    query = "&".join(f"tag={t}" for t in TAGS)
    response = client.put(f"/v2/{NAME}/manifests/{img.manifest.digest}?{query}", img.manifest.data,
                          content_type=img.manifest.media_type)
    assert response.status_code == 201
    return sorted(TAGS)


def next_url(response) -> str | None:
    if "Link" not in response:
        return None
    match = LINK_RE.match(response["Link"])
    assert match, response["Link"]
    return match.group("url")


def test_tags_are_listed_in_bytewise_order(client, tagged):
    response = client.get(f"/v2/{NAME}/tags/list")
    assert response.status_code == 200
    assert response.json() == {"name": NAME, "tags": tagged}
    # Uppercase sorts before "_", which sorts before lowercase ("ASCIIbetical").
    assert tagged[:5] == ["9", "B", "V2", "Z", "_under"]
    assert "Link" not in response


def test_n_limits_the_page_and_link_points_to_the_next(client, tagged):
    response = client.get(f"/v2/{NAME}/tags/list?n=3")
    assert response.json()["tags"] == tagged[:3]
    assert response["Link"] == f'</v2/{NAME}/tags/list?n=3&last={tagged[2]}>; rel="next"'


def test_following_links_visits_every_tag_once(client, tagged):
    seen, url, pages = [], f"/v2/{NAME}/tags/list?n=4", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        page = response.json()["tags"]
        assert 0 < len(page) <= 4
        seen += page
        url, pages = next_url(response), pages + 1
    assert seen == tagged
    assert pages == 3


def test_last_is_exclusive_and_works_without_n(client, tagged):
    response = client.get(f"/v2/{NAME}/tags/list?last=Z")
    assert response.json()["tags"] == tagged[tagged.index("Z") + 1:]
    assert "Link" not in response


def test_last_is_compared_in_the_collation_of_the_order(client, tagged):
    """On PostgreSQL with a locale's collation ("a" < "B"), a `last` compared in the default
    collation while the order is bytewise skipped tags (the paging tests above then fail
    there); both must use the one collated expression, on every database."""
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/v2/{NAME}/tags/list?n=2&last=B")
    sql = next(q["sql"] for q in queries if '"registry_api_tag"' in q["sql"] and "ORDER BY" in q["sql"])
    where, order = sql.split(" WHERE ", 1)[1].split(" ORDER BY ", 1)
    collation = 'COLLATE "C"' if connection.vendor == "postgresql" else 'COLLATE "BINARY"'
    assert collation in where.split(" > ")[0] and collation in order


def test_last_that_is_not_a_tag_starts_after_it(client, tagged):
    response = client.get(f"/v2/{NAME}/tags/list?last=m")
    assert response.json()["tags"] == [t for t in tagged if t > "m"]


def test_n_equal_to_the_rest_has_no_link(client, tagged):
    response = client.get(f"/v2/{NAME}/tags/list?n={len(tagged)}")
    assert response.json()["tags"] == tagged
    assert "Link" not in response


def test_n_zero_is_empty_without_link(client, tagged):
    response = client.get(f"/v2/{NAME}/tags/list?n=0")
    assert response.status_code == 200
    assert response.json() == {"name": NAME, "tags": []}
    assert "Link" not in response


@pytest.mark.parametrize("n", ["abc", "-1", "1.5", "0x10", " 3", "\u00b2", "\u0663"])
def test_invalid_n_is_400_with_a_spec_code(client, tagged, n):
    entry = assert_error(client.get(f"/v2/{NAME}/tags/list", {"n": n}), 400, "UNSUPPORTED")
    assert entry["detail"] == {"n": n}


def test_n_above_the_maximum_is_capped_and_paged(client, settings, tagged):
    settings.REGISTRY_PAGE_MAX = 4
    response = client.get(f"/v2/{NAME}/tags/list?n=1000")
    assert response.status_code == 200
    assert response.json()["tags"] == tagged[:4]
    assert response["Link"] == f'</v2/{NAME}/tags/list?n=4&last={tagged[3]}>; rel="next"'


def test_without_n_the_maximum_applies(client, settings, tagged):
    settings.REGISTRY_PAGE_MAX = 5
    response = client.get(f"/v2/{NAME}/tags/list")
    assert response.json()["tags"] == tagged[:5]
    assert next_url(response) is not None


def test_repository_without_tags_lists_none(client, registry, pushed_image):
    client.delete(f"/v2/{NAME}/manifests/latest")
    response = client.get(f"/v2/{NAME}/tags/list")
    assert response.status_code == 200
    assert response.json() == {"name": NAME, "tags": []}


def test_tags_of_other_repositories_are_not_listed(client, registry, tagged):
    registry.push_image("library/other", "only-here", builders.image("other"))
    assert "only-here" not in client.get(f"/v2/{NAME}/tags/list").json()["tags"]
    assert client.get("/v2/library/other/tags/list").json()["tags"] == ["only-here"]


def test_unknown_repository_is_name_unknown(client):
    assert_error(client.get("/v2/library/nowhere/tags/list"), 404, "NAME_UNKNOWN")


def test_multi_level_name_is_echoed(client, registry):
    registry.push_image("team/app/api", "v1", builders.image("api"))
    assert client.get("/v2/team/app/api/tags/list").json() == {"name": "team/app/api", "tags": ["v1"]}
