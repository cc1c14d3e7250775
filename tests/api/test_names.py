"""Repository names, tags and digests in paths: the grammar, and the error for each part."""
from __future__ import annotations

from urllib.parse import unquote

import pytest

from registry_api.oci.reference import NAME_MAX_LENGTH
from tests import builders

from .support import assert_error, sha256

DIGEST = sha256(b"x")


@pytest.mark.parametrize("name", ["team/app/api", "a/b/c/d/e", "org/manifests/blobs", "my-org/my_app.v2", "a__b/x--y"])
def test_multi_level_names_push_and_pull(client, registry, name):
    img = builders.image("named")
    registry.push_image(name, "v1", img)
    assert client.get(f"/v2/{name}/manifests/v1").content == img.manifest.data
    assert b"".join(client.get(f"/v2/{name}/blobs/{img.config.digest}").streaming_content) == img.config.data
    assert client.get(f"/v2/{name}/tags/list").json() == {"name": name, "tags": ["v1"]}
    assert name in client.get("/v2/_catalog").json()["repositories"]


def test_upload_location_keeps_the_multi_level_name(client):
    response = client.post("/v2/team/app/api/blobs/uploads/")
    assert response["Location"].startswith("/v2/team/app/api/blobs/uploads/")


BAD_NAMES = [
    "Library/app",          # uppercase
    "library/App",
    "-app", "app-", ".app", "app.", "_app",
    "a___b", "a..b", "a._b",
    "a//b", "app/",
    "a b", "app!", "ap%40p",
    "a" * (NAME_MAX_LENGTH + 1),
    "/".join(["abcdefghij"] * 30),  # every component valid, too long in total
]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    "method, suffix",
    [
        ("get", "/manifests/latest"),
        ("put", "/manifests/latest"),
        ("get", f"/blobs/{DIGEST}"),
        ("post", "/blobs/uploads/"),
        ("get", "/tags/list"),
        ("get", f"/referrers/{DIGEST}"),
    ],
)
def test_invalid_name_is_name_invalid(client, name, method, suffix):
    response = getattr(client, method)(f"/v2/{name}{suffix}")
    assert_error(response, 400, "NAME_INVALID")


def test_name_of_the_maximum_length_is_accepted(client, registry):
    name = "a" * NAME_MAX_LENGTH
    registry.push_blob(name, b"longest name")
    assert client.get(f"/v2/{name}/tags/list").status_code == 200


def test_invalid_name_is_reported_before_an_invalid_reference(client):
    assert_error(client.get("/v2/Bad/manifests/.bad-tag"), 400, "NAME_INVALID")


@pytest.mark.parametrize("tag", [".hidden", "-dash", "a" * 129, "t@g", "ta!g", "latest%0A"])
def test_an_invalid_tag_is_read_and_deleted_as_an_unknown_manifest(client, pushed_image, tag):
    """No manifest can have it: 404, as Distribution and zot answer (OCI conformance)."""
    url = f"/v2/library/app/manifests/{tag}"
    for method in (client.get, client.delete):
        entry = assert_error(method(url), 404, "MANIFEST_UNKNOWN")
        assert entry["detail"] == {"reference": unquote(tag)}
    assert client.head(url).status_code == 404


@pytest.mark.parametrize("tag", [".hidden", "-dash", "a" * 129, "t@g", "ta!g"])
def test_an_invalid_tag_is_refused_on_put(client, pushed_image, tag):
    manifest = pushed_image.manifest
    response = client.put(f"/v2/library/app/manifests/{tag}", manifest.data, content_type=manifest.media_type)
    assert assert_error(response, 400, "MANIFEST_INVALID")["detail"] == {"tag": tag}


def test_tag_with_a_trailing_newline_is_never_stored(client, registry, pushed_image):
    manifest = pushed_image.manifest
    assert_error(client.put("/v2/library/app/manifests/v1%0A", manifest.data, content_type=manifest.media_type),
                 400, "MANIFEST_INVALID")
    assert_error(client.put(f"/v2/library/app/manifests/{manifest.digest}?tag=v2%0A", manifest.data,
                            content_type=manifest.media_type), 400, "MANIFEST_INVALID")
    assert client.get("/v2/library/app/tags/list").json()["tags"] == ["latest"]


@pytest.mark.parametrize("tag", ["a", "_", "9", "A" * 128, "v1.0.0-rc.1_build"])
def test_valid_tags_are_accepted(client, registry, pushed_image, tag):
    assert registry.put_manifest("library/app", tag, pushed_image.manifest).status_code == 201
    assert client.get(f"/v2/library/app/manifests/{tag}").status_code == 200


UNSUPPORTED_DIGESTS = ["md5:" + "a" * 32, "sha384:" + "a" * 96, "blake3:" + "a" * 64, "sha1:" + "a" * 40]
MALFORMED_DIGESTS = ["sha256:" + "a" * 64 + "%0A", "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "g" * 64, "sha512:" + "a" * 64, "sha256:"]


@pytest.mark.parametrize("digest", UNSUPPORTED_DIGESTS + MALFORMED_DIGESTS)
@pytest.mark.parametrize("kind", ["blobs", "referrers"])
def test_unsupported_or_malformed_digest_is_digest_invalid(client, pushed_image, kind, digest):
    entry = assert_error(client.get(f"/v2/library/app/{kind}/{digest}"), 400, "DIGEST_INVALID")
    assert entry["detail"] == {"digest": unquote(digest)}


@pytest.mark.parametrize("digest", UNSUPPORTED_DIGESTS + MALFORMED_DIGESTS)
def test_unsupported_or_malformed_manifest_digest_is_an_unknown_manifest(client, pushed_image, digest):
    for method in (client.get, client.delete):
        entry = assert_error(method(f"/v2/library/app/manifests/{digest}"), 404, "MANIFEST_UNKNOWN")
        assert entry["detail"] == {"reference": unquote(digest)}
    manifest = pushed_image.manifest
    response = client.put(f"/v2/library/app/manifests/{digest}", manifest.data, content_type=manifest.media_type)
    assert_error(response, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("digest", UNSUPPORTED_DIGESTS)
def test_upload_with_unsupported_algorithm_is_digest_invalid(client, digest):
    location = client.post("/v2/library/app/blobs/uploads/")["Location"]
    response = client.put(f"{location}?digest={digest}", b"data", content_type="application/octet-stream")
    assert_error(response, 400, "DIGEST_INVALID")
    assert_error(client.post(f"/v2/library/app/blobs/uploads/?digest={digest}", b"data",
                             content_type="application/octet-stream"), 400, "DIGEST_INVALID")
