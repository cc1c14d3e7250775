"""GET / HEAD /v2/<name>/manifests/<reference>: exact bytes, headers, conditional requests."""
from __future__ import annotations

import pytest

from tests import builders

from .support import assert_error, sha256

NAME = "library/app"


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_get_returns_the_exact_bytes_with_headers(client, pushed_image, by):
    manifest = pushed_image.manifest
    reference = "latest" if by == "tag" else manifest.digest
    response = client.get(f"/v2/{NAME}/manifests/{reference}")
    assert response.status_code == 200
    assert response.content == manifest.data
    assert response["Content-Type"] == builders.OCI_MANIFEST
    assert response["Content-Length"] == str(len(manifest.data))
    assert response["Docker-Content-Digest"] == manifest.digest
    assert response["ETag"] == f'"{manifest.digest}"'


def test_content_type_is_the_stored_type_whatever_accept_says(client, registry):
    img = builders.image("docker", docker=True)
    registry.push_image(NAME, "v2s2", img)
    response = client.get(f"/v2/{NAME}/manifests/v2s2", headers={"Accept": builders.OCI_MANIFEST})
    assert response["Content-Type"] == builders.DOCKER_MANIFEST
    assert response.content == img.manifest.data


def test_index_is_served_as_an_index(client, registry):
    img = builders.image("one")
    registry.push_image(NAME, img.manifest.digest, img)
    idx = builders.index([img])
    registry.push_manifest(NAME, "multi", idx)
    response = client.get(f"/v2/{NAME}/manifests/multi")
    assert response["Content-Type"] == builders.OCI_INDEX
    assert response.content == idx.data
    assert response["Docker-Content-Digest"] == idx.digest


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_head_has_the_headers_and_no_body(client, pushed_image, by):
    manifest = pushed_image.manifest
    reference = "latest" if by == "tag" else manifest.digest
    response = client.head(f"/v2/{NAME}/manifests/{reference}")
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(len(manifest.data))
    assert response["Docker-Content-Digest"] == manifest.digest
    assert response["Content-Type"] == builders.OCI_MANIFEST


def test_if_none_match_with_the_digest_is_304(client, pushed_image):
    digest = pushed_image.manifest.digest
    response = client.get(f"/v2/{NAME}/manifests/latest", headers={"If-None-Match": f'"{digest}"'})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{digest}"'
    assert response["Docker-Content-Digest"] == digest
    # RFC 9110 §15.4.5: a Content-Length on a 304 must be the 200's, never 0.
    assert response.get("Content-Length") in (None, str(len(pushed_image.manifest.data)))


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_none_match_star_is_304_when_the_manifest_exists(client, pushed_image, method):
    response = getattr(client, method)(f"/v2/{NAME}/manifests/latest", headers={"If-None-Match": "*"})
    assert response.status_code == 304
    assert response.content == b""
    assert response["Docker-Content-Digest"] == pushed_image.manifest.digest


def test_if_none_match_star_on_a_missing_manifest_is_still_404(client, pushed_image):
    assert_error(client.get(f"/v2/{NAME}/manifests/nope", headers={"If-None-Match": "*"}), 404, "MANIFEST_UNKNOWN")


def test_if_none_match_with_another_etag_is_200(client, pushed_image):
    response = client.get(f"/v2/{NAME}/manifests/latest", headers={"If-None-Match": f'"{sha256(b"x")}"'})
    assert response.status_code == 200
    assert response.content == pushed_image.manifest.data


def test_unknown_tag_is_manifest_unknown(client, pushed_image):
    assert_error(client.get(f"/v2/{NAME}/manifests/nope"), 404, "MANIFEST_UNKNOWN")


def test_unknown_digest_is_manifest_unknown(client, pushed_image):
    assert_error(client.get(f"/v2/{NAME}/manifests/{sha256(b'nope')}"), 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize("reference", [".INVALID_MANIFEST_NAME", sha256(b"nobody pushed this")])
def test_the_conformance_suites_nonexistent_manifest_is_404(client, pushed_image, reference):
    """OCI conformance v1.1.1 (pull and push workflows) asks for `.INVALID_MANIFEST_NAME`,
    which cannot be a tag (no leading dot): still a 404, never a 400."""
    url = f"/v2/library/app/manifests/{reference}"
    assert_error(client.get(url), 404, "MANIFEST_UNKNOWN")
    head = client.head(url)
    assert head.status_code == 404 and head.content == b""
    assert_error(client.delete(url), 404, "MANIFEST_UNKNOWN")
    assert client.get("/v2/library/app/manifests/latest").status_code == 200


def test_head_on_unknown_manifest_is_404_without_body(client, pushed_image):
    response = client.head(f"/v2/{NAME}/manifests/nope")
    assert response.status_code == 404
    assert response.content == b""


def test_unknown_repository_is_name_unknown(client, pushed_image):
    assert_error(client.get("/v2/library/nowhere/manifests/latest"), 404, "NAME_UNKNOWN")


def test_manifest_is_not_visible_from_another_repository(client, registry, pushed_image):
    registry.push_image("library/other", "latest", builders.image("other"))
    assert_error(client.get(f"/v2/library/other/manifests/{pushed_image.manifest.digest}"), 404, "MANIFEST_UNKNOWN")


def test_blob_digest_is_not_a_manifest(client, pushed_image):
    assert_error(client.get(f"/v2/{NAME}/manifests/{pushed_image.config.digest}"), 404, "MANIFEST_UNKNOWN")


def test_a_tag_that_looks_like_a_fallback_digest_tag_is_just_a_tag(client, registry, pushed_image):
    fallback = "sha256-" + pushed_image.manifest.digest[7:]
    assert_error(client.get(f"/v2/{NAME}/manifests/{fallback}"), 404, "MANIFEST_UNKNOWN")
