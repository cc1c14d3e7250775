"""GET /v2/_catalog: every repository in bytewise order, paged with n/last and Link."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from .support import assert_error

NAMES = ["zeta", "alpha/beta", "alpha-beta", "alpha.beta", "alpha_beta", "alpha", "team/app/api", "0day"]


@pytest.fixture
def repositories(registry):
    for name in NAMES:
        registry.push_blob(name, f"blob of {name}".encode())
    return sorted(NAMES)


def test_empty_registry_has_an_empty_catalog(client):
    response = client.get("/v2/_catalog")
    assert response.status_code == 200
    assert response.json() == {"repositories": []}
    assert "Link" not in response


def test_repositories_are_listed_in_bytewise_order(client, repositories):
    response = client.get("/v2/_catalog")
    assert response.json() == {"repositories": repositories}
    # "-" < "." < "/" < "_" in ASCII.
    assert repositories[1:6] == ["alpha", "alpha-beta", "alpha.beta", "alpha/beta", "alpha_beta"]


def test_n_pages_with_a_link_to_the_next(client, repositories):
    response = client.get("/v2/_catalog?n=3")
    assert response.json()["repositories"] == repositories[:3]
    match = re.match(r'^<(/v2/_catalog\?[^>]+)>; rel="next"$', response["Link"])
    assert match, response["Link"]
    query = parse_qs(urlsplit(match.group(1)).query)
    assert query == {"n": ["3"], "last": [repositories[2]]}


def test_following_links_visits_every_repository_once(client, repositories):
    seen, url = [], "/v2/_catalog?n=3"
    while url:
        response = client.get(url)
        seen += response.json()["repositories"]
        url = re.match(r"^<([^>]+)>", response["Link"]).group(1) if "Link" in response else None
    assert seen == repositories


def test_last_with_a_slash_is_exclusive(client, repositories):
    response = client.get("/v2/_catalog", {"last": "alpha/beta"})
    assert response.json()["repositories"] == repositories[repositories.index("alpha/beta") + 1:]


def test_n_zero_is_empty_without_link(client, repositories):
    response = client.get("/v2/_catalog?n=0")
    assert response.json() == {"repositories": []}
    assert "Link" not in response


@pytest.mark.parametrize("n", ["many", "-5", "2.0"])
def test_invalid_n_is_400_with_a_spec_code(client, repositories, n):
    assert_error(client.get("/v2/_catalog", {"n": n}), 400, "UNSUPPORTED")


def test_n_above_the_maximum_is_capped_and_paged(client, settings, repositories):
    settings.REGISTRY_PAGE_MAX = 5
    response = client.get("/v2/_catalog?n=6")
    assert response.json()["repositories"] == repositories[:5]
    following = re.match(r'^<(/v2/_catalog\?n=5&[^>]+)>; rel="next"$', response["Link"]).group(1)
    assert client.get(following).json()["repositories"] == repositories[5:10]
    assert client.get("/v2/_catalog?n=5").json()["repositories"] == repositories[:5]


def test_without_n_the_maximum_applies_with_a_link(client, settings, repositories):
    settings.REGISTRY_PAGE_MAX = 5
    response = client.get("/v2/_catalog")
    assert response.json()["repositories"] == repositories[:5]
    assert "Link" in response


def test_sessions_that_never_finish_are_not_listed(client, registry, repositories):
    """A bare POST, or a mount that fell back to a session, must not invent a repository."""
    client.post("/v2/never/pushed/blobs/uploads/")
    digest = registry.push_blob("zeta", b"mounted nowhere")
    response = client.post(f"/v2/mount/fallback/blobs/uploads/?mount={digest}&from=nowhere/here")
    assert response.status_code == 202
    assert client.get("/v2/_catalog").json() == {"repositories": repositories}
    assert_error(client.get("/v2/never/pushed/tags/list"), 404, "NAME_UNKNOWN")
    assert_error(client.get("/v2/mount/fallback/tags/list"), 404, "NAME_UNKNOWN")
