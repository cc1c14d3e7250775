"""The registry with its blobs in S3 (moto's real server), as installed: skopeo pushes a
layer of several multipart parts through gunicorn, pulls it back through presigned
redirects, and garbage collection and fsck run against the bucket."""
from __future__ import annotations

import pytest

from tests import builders

from .conftest import _running_registry
from .support import blob_bytes, layout_blob, skopeo, skopeo_push, skopeo_raw

pytestmark = pytest.mark.e2e

PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def s3_registry(s3_server, tmp_path_factory):
    bucket = s3_server.new_bucket()
    env = s3_server.settings_env(bucket, REGISTRY_S3_PART_SIZE=str(PART), REGISTRY_S3_REDIRECT="true")
    with _running_registry(tmp_path_factory.mktemp("s3-registry"), auth=False, **env) as registry:
        registry.bucket = bucket
        yield registry


def _keys(s3_server, bucket: str, prefix: str) -> set[str]:
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


def _blob_keys(img: builders.Image) -> set[str]:
    return {f"blobs/sha256/{b.digest[7:9]}/{b.digest[7:]}" for b in img.blobs}


def test_skopeo_push_and_pull_with_blobs_in_s3(s3_registry, s3_server, tmp_path):
    img = builders.image("s3-app", padding=2 * PART + 4321)  # a layer of three parts
    assert len(img.layers[0].data) > 2 * PART
    ref = f"docker://{s3_registry.host}/e2e/s3app:v1"
    skopeo_push(f"oci:{builders.image_layout(tmp_path / 'src', 'v1', img)}:v1", ref)

    assert _keys(s3_server, s3_registry.bucket, "blobs/") >= _blob_keys(img)
    assert _keys(s3_server, s3_registry.bucket, "uploads/") == set()  # staging cleaned up
    assert skopeo_raw(ref) == img.manifest.data
    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--src-tls-verify=false", ref, f"oci:{out}:v1")
    for digest, data in blob_bytes(img.blobs).items():
        assert layout_blob(out, digest) == data, digest
    # Those bytes came from the bucket: the registry answered with redirects.
    blob = s3_registry.request("GET", f"/v2/e2e/s3app/blobs/{img.layers[0].digest}")
    assert blob.status == 307 and blob.headers["Location"].startswith(s3_server.endpoint_url)


def test_gc_and_fsck_work_on_the_bucket(s3_registry, s3_server, tmp_path):
    keep = builders.image("s3-keep")
    drop = builders.image("s3-drop")
    for name, img in (("e2e/keep", keep), ("e2e/drop", drop)):
        skopeo_push(f"oci:{builders.image_layout(tmp_path / name, 'v1', img)}:v1",
                    f"docker://{s3_registry.host}/{name}:v1")
    assert s3_registry.request("DELETE", "/v2/e2e/drop/manifests/v1").status == 202

    out = s3_registry.manage("gc", "--delete-untagged", "--grace-period", "0")

    assert f"{len(drop.blobs)} blob(s)" in out
    stored = _keys(s3_server, s3_registry.bucket, "blobs/")
    assert stored >= _blob_keys(keep)
    assert not stored & _blob_keys(drop)
    s3_registry.manage("fsck")  # exits 1 (and `manage` raises) on any problem
