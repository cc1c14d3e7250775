"""What only a real server shows: request framing, sendfile ranges and repeated headers.

The Django test client hands views a body that is already framed and never goes through
gunicorn's wsgi.file_wrapper or the header splitting in registry_project/wsgi.py; these
tests speak HTTP/1.1 to gunicorn with the standard library's http.client.
"""
from __future__ import annotations

import http.client
import os

import pytest

from tests import builders
from tests.builders import sha256

from .support import send

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def _start_upload(live_registry, name: str) -> str:
    response = live_registry.request("POST", f"/v2/{name}/blobs/uploads/")
    assert response.status == 202, response.body
    return response.headers["Location"]


def _pieces(data: bytes, sizes: list[int]):
    """The body as a generator: http.client sends it with Transfer-Encoding: chunked."""
    offset = 0
    for size in [*sizes, len(data)]:
        piece = data[offset:offset + size]
        if piece:  # an empty chunk would end the body early
            yield piece
        offset += size


def test_chunked_patch_without_length_or_range_is_stored_whole(live_registry):
    """docker push's layer upload: one PATCH, chunked, no Content-Length/Content-Range."""
    data = os.urandom(2 * MIB + 12345)
    location = _start_upload(live_registry, "wire/chunked")
    conn = live_registry.connection()
    try:
        # Pieces that straddle the server's 1 MiB read size.
        conn.putrequest("PATCH", location)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", "application/octet-stream")
        conn.endheaders()
        for piece in _pieces(data, [1, 700_000, MIB, 3]):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        response.read()
        assert response.status == 202
        assert response.getheader("Range") == f"0-{len(data) - 1}"
        location = response.getheader("Location")

        status = send(conn, "GET", location)
        assert status.status == 204
        assert status.headers["Range"] == f"0-{len(data) - 1}"

        digest = sha256(data)
        done = send(conn, "PUT", f"{location}?digest={digest}", b"")
        assert done.status == 201, done.body
        assert done.headers["Docker-Content-Digest"] == digest
    finally:
        conn.close()

    blob = live_registry.request("GET", f"/v2/wire/chunked/blobs/{digest}")
    assert blob.status == 200
    assert blob.body == data


def test_two_chunked_patches_append(live_registry):
    first, second = os.urandom(300_000), os.urandom(MIB + 1)
    location = _start_upload(live_registry, "wire/appended")
    for part in (first, second):
        # A generator body and no length: http.client frames it with Transfer-Encoding: chunked.
        response = live_registry.request("PATCH", location, _pieces(part, [1000]))
        assert response.status == 202, response.body
        location = response.headers["Location"]
    assert response.headers["Range"] == f"0-{len(first) + len(second) - 1}"
    digest = sha256(first + second)
    assert live_registry.request("PUT", f"{location}?digest={digest}", b"").status == 201
    assert live_registry.request("GET", f"/v2/wire/appended/blobs/{digest}").body == first + second


def test_range_requests_send_exactly_the_range(live_registry):
    """206 bodies go out through sendfile(); a byte too many or too few would corrupt the
    next response on the same keep-alive connection, so several share one."""
    data = os.urandom(3 * MIB + 7)
    digest = live_registry.push_blob("wire/ranges", data)
    path = f"/v2/wire/ranges/blobs/{digest}"
    size = len(data)
    conn = live_registry.connection()
    try:
        assert send(conn, "HEAD", path).status == 200
        sock = conn.sock  # kept alive: every response below must end where it says
        for header, start, end in [
            ("bytes=0-0", 0, 0),
            (f"bytes={MIB - 5}-{2 * MIB + 5}", MIB - 5, 2 * MIB + 5),
            ("bytes=-100", size - 100, size - 1),
            (f"bytes={size - 10}-", size - 10, size - 1),
            (f"bytes=5-{size + 1000}", 5, size - 1),
        ]:
            response = send(conn, "GET", path, headers={"Range": header})
            assert response.status == 206, header
            assert response.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
            assert int(response.headers["Content-Length"]) == end - start + 1
            assert response.body == data[start:end + 1], header

        unsatisfiable = send(conn, "GET", path, headers={"Range": f"bytes={size}-"})
        assert unsatisfiable.status == 416
        assert unsatisfiable.headers["Content-Range"] == f"bytes */{size}"

        whole = send(conn, "GET", path)
        assert whole.status == 200
        assert whole.headers["Accept-Ranges"] == "bytes"
        assert whole.headers["Docker-Content-Digest"] == digest
        assert whole.body == data
        assert conn.sock is sock
    finally:
        conn.close()


def test_head_blob_has_length_and_no_body(live_registry):
    data = os.urandom(1000)
    digest = live_registry.push_blob("wire/head", data)
    response = live_registry.request("HEAD", f"/v2/wire/head/blobs/{digest}")
    assert response.status == 200
    assert response.headers["Content-Length"] == "1000"
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.body == b""


def test_manifest_put_with_tags_sends_one_oci_tag_header_per_tag(live_registry):
    img = builders.image("wire-tags")
    for blob in img.blobs:
        live_registry.push_blob("wire/tags", blob.data)
    response = live_registry.request(
        "PUT", f"/v2/wire/tags/manifests/{img.manifest.digest}?tag=a&tag=b&tag=v1.0",
        img.manifest.data, {"Content-Type": img.manifest.media_type},
    )
    assert response.status == 201, response.body
    assert response.headers.get_all("OCI-Tag") == ["a", "b", "v1.0"]
    assert response.headers["Docker-Content-Digest"] == img.manifest.digest

    tags = live_registry.request("GET", "/v2/wire/tags/tags/list").json()
    assert tags == {"name": "wire/tags", "tags": ["a", "b", "v1.0"]}
    for tag in ("a", "b", "v1.0"):
        assert live_registry.manifest("wire/tags", tag).body == img.manifest.data


def _put_with_tags(live_registry, name: str, img: builders.Image, tags: list[str]):
    query = "&".join(f"tag={tag}" for tag in tags)
    return live_registry.request(
        "PUT", f"/v2/{name}/manifests/{img.manifest.digest}?{query}", img.manifest.data,
        {"Content-Type": img.manifest.media_type},
    )


def test_one_tag_too_many_gets_the_apps_json_414_not_gunicorns(live_registry, monkeypatch):
    """100 tags of 128 characters make a ~13.5 KB request line, over gunicorn's default
    limit (4094) and its usual cap (8190): deploy/gunicorn.conf.py raises both."""
    monkeypatch.setattr(http.client, "_MAXHEADERS", 300)  # 100 OCI-Tag headers come back
    img = builders.image("wire-many-tags")
    for blob in img.blobs:
        live_registry.push_blob("wire/many-tags", blob.data)
    tags = [f"{i:03d}-" + "x" * 124 for i in range(101)]
    assert all(len(tag) == 128 for tag in tags)

    refused = _put_with_tags(live_registry, "wire/many-tags", img, tags)
    assert refused.status == 414, refused.body[:300]
    assert refused.headers["Content-Type"].startswith("application/json")
    assert refused.json()["errors"][0]["code"] == "MANIFEST_INVALID"

    for count in (20, 100):
        response = _put_with_tags(live_registry, "wire/many-tags", img, tags[:count])
        assert response.status == 201, response.body[:300]
        assert response.headers.get_all("OCI-Tag") == tags[:count]
    listed = live_registry.request("GET", "/v2/wire/many-tags/tags/list").json()["tags"]
    assert listed == tags[:100]


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/v2/", 200),
    ("GET", "/v2/_catalog", 200),
    ("GET", "/v2/wire/none/manifests/latest", 404),  # an error envelope
    ("GET", "/v2/wire/none/tags/list", 404),
    ("GET", "/v2/BAD/tags/list", 400),  # NAME_INVALID is answered before any lookup
    ("DELETE", "/v2/", 405),
    ("GET", "/healthz", 200),
])
def test_whole_body_answers_carry_their_length(live_registry, method, path, status):
    """Not chunked, as Distribution answers them: a client reading an error, a list or a
    token knows its size up front, and a HEAD says what the GET would send."""
    got = live_registry.request(method, path)
    assert got.status == status, got.body
    assert got.headers.get("Transfer-Encoding") is None
    assert int(got.headers["Content-Length"]) == len(got.body) > 0
    if method == "GET" and path.startswith("/v2/"):
        head = live_registry.request("HEAD", path)
        assert head.body == b"" and head.headers["Content-Length"] == got.headers["Content-Length"]
