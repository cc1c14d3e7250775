"""GET /v2/, the version header, and what /v2/ answers for paths and methods it lacks."""
from __future__ import annotations

import pytest

from .support import assert_error

VERSION = ("Docker-Distribution-API-Version", "registry/2.0")


def test_version_check_answers_200_with_api_version_header(client):
    response = client.get("/v2/")
    assert response.status_code == 200
    assert response[VERSION[0]] == VERSION[1]
    assert response.json() == {}


def test_version_check_answers_head(client):
    response = client.head("/v2/")
    assert response.status_code == 200
    assert response[VERSION[0]] == VERSION[1]


def test_error_responses_carry_the_api_version_header(client):
    response = client.get("/v2/library/nothing/manifests/latest")
    assert_error(response, 404, "NAME_UNKNOWN")
    assert response[VERSION[0]] == VERSION[1]


@pytest.mark.parametrize(
    "path",
    ["/v2/library/app/unknown", "/v2/library/app/blobs", "/v2/_catalog/extra", "/v2/library/app/tags"],
)
def test_unknown_endpoint_is_a_404_envelope(client, path):
    response = client.get(path)
    entry = assert_error(response, 404, "UNSUPPORTED")
    assert "endpoint" in entry["message"]


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("post", "/v2/", "GET, HEAD"),
        ("delete", "/v2/", "GET, HEAD"),
        ("post", "/v2/library/app/manifests/latest", "DELETE, GET, HEAD, PUT"),
        ("patch", "/v2/library/app/blobs/sha256:" + "a" * 64, "DELETE, GET, HEAD"),
        ("get", "/v2/library/app/blobs/uploads/", "POST"),
        ("put", "/v2/library/app/tags/list", "GET, HEAD"),
        ("delete", "/v2/_catalog", "GET, HEAD"),
        ("post", "/v2/library/app/referrers/sha256:" + "a" * 64, "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_unsupported_with_allow(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert_error(response, 405, "UNSUPPORTED")
    assert response["Allow"] == allowed


def test_v2_without_the_slash_redirects_to_the_version_check(client):
    response = client.get("/v2")
    assert response.status_code == 301
    assert response["Location"] == "/v2/"
    assert response[VERSION[0]] == VERSION[1]
    assert client.get("/v2", follow=True).json() == {}
    assert client.head("/v2").status_code == 301


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_v2_without_the_slash_answers_other_methods_with_the_envelope(client, method):
    response = getattr(client, method)("/v2")
    assert_error(response, 405, "UNSUPPORTED")
    assert response[VERSION[0]] == VERSION[1]
