"""Every error code the API can produce, with its status and envelope; and the 500 path.

Each row drives a real request that fails one way. `test_every_code_is_covered` keeps the
table in step with `registry_api.oci.errors.CODES`, and `test_every_4xx_code_is_one_of_the_specs`
keeps that to the OCI distribution spec's own list.
"""
from __future__ import annotations

import io

import pytest

from registry_api.oci.errors import CODES
from registry_api.services import manifests as manifest_service
from storage_backends.filesystem import FilesystemStorage
from tests import builders

from .support import assert_error, sha256

NAME = "library/app"
MISSING = sha256(b"missing")
# Produced only when access control is on; asserted in tests/auth.
AUTH_CODES = {"UNAUTHORIZED", "DENIED", "TOOMANYREQUESTS", "UNAVAILABLE"}  # UNAVAILABLE: tests/auth/test_directory.py
# OCI distribution spec v1.1, "Error Codes" (code-1 … code-14): a 4xx JSON body's code MUST
# be one of these.
SPEC_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED",
    "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
}


def _location(client) -> str:
    return client.post(f"/v2/{NAME}/blobs/uploads/")["Location"]


def _put_manifest(client, reference: str, data: bytes, media_type: str = builders.OCI_MANIFEST):
    return client.put(f"/v2/{NAME}/manifests/{reference}", data, content_type=media_type)


CASES = {
    ("BLOB_UNKNOWN", 404): lambda c, img: c.get(f"/v2/{NAME}/blobs/{MISSING}"),
    ("BLOB_UPLOAD_INVALID", 400): lambda c, img: c.patch(
        _location(c), b"abc", content_type="application/octet-stream", headers={"Content-Range": "nonsense"}),
    ("BLOB_UPLOAD_INVALID", 416): lambda c, img: c.patch(
        _location(c), b"abc", content_type="application/octet-stream", headers={"Content-Range": "5-7"}),
    ("BLOB_UPLOAD_UNKNOWN", 404): lambda c, img: c.get(f"/v2/{NAME}/blobs/uploads/00000000-0000-4000-8000-000000000000"),
    ("DIGEST_INVALID", 400): lambda c, img: c.put(
        f"{_location(c)}?digest={MISSING}", b"not it", content_type="application/octet-stream"),
    ("MANIFEST_BLOB_UNKNOWN", 400): lambda c, img: _put_manifest(c, "v2", builders.image("new").manifest.data),
    ("MANIFEST_INVALID", 400): lambda c, img: _put_manifest(c, "v2", b"{}"),
    ("MANIFEST_INVALID", 413): lambda c, img: _put_manifest(c, "v2", b" " * (4 * 1024 * 1024 + 1)),
    ("MANIFEST_UNKNOWN", 404): lambda c, img: c.get(f"/v2/{NAME}/manifests/nope"),
    ("NAME_INVALID", 400): lambda c, img: c.get("/v2/UPPER/tags/list"),
    ("NAME_UNKNOWN", 404): lambda c, img: c.get("/v2/library/nowhere/tags/list"),
    ("SIZE_INVALID", 400): lambda c, img: c.put(
        f"{_location(c)}?digest={MISSING}", CONTENT_LENGTH="100", CONTENT_TYPE="application/octet-stream",
        **{"wsgi.input": io.BytesIO(b"short")}),
    ("UNSUPPORTED", 405): lambda c, img: c.post(f"/v2/{NAME}/tags/list"),
    ("UNSUPPORTED", 404): lambda c, img: c.get(f"/v2/{NAME}/nothing-here"),
    ("MANIFEST_INVALID", 414): lambda c, img: c.put(
        f"/v2/{NAME}/manifests/{img.manifest.digest}?" + "&".join(f"tag=t{i}" for i in range(500)),
        img.manifest.data, content_type=img.manifest.media_type),
    ("UNSUPPORTED", 400): lambda c, img: c.get("/v2/_catalog?n=-1"),
    ("SIZE_INVALID", 416): lambda c, img: c.get(f"/v2/{NAME}/blobs/{img.config.digest}", headers={"Range": "bytes=999999-"}),
}


@pytest.mark.parametrize("code, status", list(CASES), ids=[f"{c}-{s}" for c, s in CASES])
def test_error_code_has_its_status_and_envelope(client, pushed_image, code, status):
    response = CASES[(code, status)](client, pushed_image)
    entry = assert_error(response, status, code)
    assert entry["message"]
    assert isinstance(entry["detail"], (dict, list))


def test_every_code_is_covered():
    covered = {code for code, _ in CASES}
    assert covered | AUTH_CODES | {"UNKNOWN"} == set(CODES)


def test_every_4xx_code_is_one_of_the_specs():
    """Docker's legacy TAG_INVALID, PAGINATION_NUMBER_INVALID and RANGE_INVALID are gone;
    UNKNOWN only goes with a 500, which the spec's list does not govern."""
    assert {code for code, (_, status) in CODES.items() if status < 500} == SPEC_CODES
    assert {code for code, status in CASES if status < 500} <= SPEC_CODES
    assert CODES["UNKNOWN"][1] == 500


def test_disabled_delete_is_405_unsupported(client, settings, pushed_image):
    settings.REGISTRY_DELETE_ENABLED = False
    assert_error(client.delete(f"/v2/{NAME}/manifests/latest"), 405, "UNSUPPORTED")


def _assert_opaque_500(response, *secrets: str) -> None:
    assert_error(response, 500, "UNKNOWN")
    text = response.content.decode()
    for leak in ("Traceback", "File \"", ".py", *secrets):
        assert leak not in text


def test_unexpected_exception_in_a_service_is_unknown_500_without_details(client, monkeypatch, pushed_image, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("secret detail at /srv/registry/db.sqlite3")

    monkeypatch.setattr(manifest_service, "lock_repository", explode)
    response = client.delete(f"/v2/{NAME}/manifests/latest")
    _assert_opaque_500(response, "secret", "/srv/registry", "RuntimeError")
    # The traceback goes to the log instead.
    assert any(r.exc_info and "secret detail" in str(r.exc_info[1]) for r in caplog.records)


def test_storage_failure_while_pulling_is_unknown_500_without_path(client, monkeypatch, pushed_image, storage_root):
    def broken_open(self, digest, offset=0):
        raise OSError(5, "Input/output error", str(storage_root / "blobs" / "sha256"))

    monkeypatch.setattr(FilesystemStorage, "open", broken_open)
    response = client.get(f"/v2/{NAME}/blobs/{pushed_image.config.digest}")
    _assert_opaque_500(response, str(storage_root), "Input/output")


def test_500_keeps_the_api_version_header(client, monkeypatch, pushed_image):
    monkeypatch.setattr(manifest_service, "lock_repository", lambda *a: 1 / 0)
    response = client.delete(f"/v2/{NAME}/manifests/latest")
    assert response.status_code == 500
    assert response["Docker-Distribution-API-Version"] == "registry/2.0"
