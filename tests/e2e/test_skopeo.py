"""skopeo against the live registry: push, read back, convert, indexes, tags, delete, mount.

Images come from tests/builders.py as OCI image layouts, so every byte skopeo pushes is
known and compared with what the registry serves and what skopeo pulls back.
"""
from __future__ import annotations

import json

import pytest

from tests import builders
from tests.builders import sha256

from .support import blob_bytes, layout_blob, skopeo, skopeo_push, skopeo_raw

pytestmark = pytest.mark.e2e


@pytest.fixture
def app_image() -> builders.Image:
    return builders.image("skopeo-app", layer_count=3)


@pytest.fixture
def app_layout(tmp_path, app_image):
    return builders.image_layout(tmp_path / "src", "v1", app_image)


def _ref(live_registry, name: str, tag: str) -> str:
    return f"docker://{live_registry.host}/{name}:{tag}"


def test_copy_keeps_manifest_bytes_and_blobs(live_registry, tmp_path, app_image, app_layout):
    ref = _ref(live_registry, "e2e/app", "v1")
    skopeo_push(f"oci:{app_layout}:v1", ref)

    assert skopeo_raw(ref) == app_image.manifest.data
    served = live_registry.manifest("e2e/app", "v1", accept=builders.OCI_MANIFEST)
    assert served.status == 200
    assert served.headers["Content-Type"] == builders.OCI_MANIFEST
    assert served.headers["Docker-Content-Digest"] == app_image.manifest.digest
    assert served.body == app_image.manifest.data

    inspected = json.loads(skopeo("inspect", "--tls-verify=false", ref))
    assert inspected["Digest"] == app_image.manifest.digest
    assert inspected["Layers"] == [b.digest for b in app_image.layers]
    assert inspected["Labels"] == {"test.label": "skopeo-app"}

    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--src-tls-verify=false", ref, f"oci:{out}:v1")
    pulled_index = json.loads((out / "index.json").read_text())
    assert [m["digest"] for m in pulled_index["manifests"]] == [app_image.manifest.digest]
    for digest, data in blob_bytes([*app_image.blobs, app_image.manifest]).items():
        assert layout_blob(out, digest) == data, digest


def test_copy_by_digest_reference(live_registry, app_image, app_layout):
    skopeo_push(f"oci:{app_layout}:v1", _ref(live_registry, "e2e/bydigest", "v1"))
    by_digest = f"docker://{live_registry.host}/e2e/bydigest@{app_image.manifest.digest}"
    assert skopeo_raw(by_digest) == app_image.manifest.data


def test_format_v2s2_converts_to_docker_media_types(live_registry, tmp_path, app_image, app_layout):
    ref = _ref(live_registry, "e2e/v2s2", "v1")
    skopeo_push(f"oci:{app_layout}:v1", ref, "--format", "v2s2")

    raw = skopeo_raw(ref)
    manifest = json.loads(raw)
    assert manifest["mediaType"] == builders.DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == builders.DOCKER_CONFIG
    assert manifest["config"]["digest"] == app_image.config.digest
    assert [layer["mediaType"] for layer in manifest["layers"]] == [builders.DOCKER_LAYER] * 3
    assert [layer["digest"] for layer in manifest["layers"]] == [b.digest for b in app_image.layers]

    served = live_registry.manifest("e2e/v2s2", "v1", accept=builders.DOCKER_MANIFEST)
    assert served.headers["Content-Type"] == builders.DOCKER_MANIFEST
    assert served.headers["Docker-Content-Digest"] == sha256(raw)
    assert served.body == raw

    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--src-tls-verify=false", ref, f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == raw
    for blob in app_image.blobs:
        assert (out / blob.digest.split(":", 1)[1]).read_bytes() == blob.data


def test_copy_all_keeps_index_bytes(live_registry, tmp_path):
    amd64 = builders.image("skopeo-multi", architecture="amd64")
    arm64 = builders.image("skopeo-multi", architecture="arm64")
    layout, idx = builders.index_layout(tmp_path / "src", "v1", [amd64, arm64])
    ref = _ref(live_registry, "e2e/multi", "v1")
    skopeo_push(f"oci:{layout}:v1", ref, "--all")

    assert skopeo_raw(ref) == idx.data
    served = live_registry.manifest("e2e/multi", "v1", accept=builders.OCI_INDEX)
    assert served.headers["Content-Type"] == builders.OCI_INDEX
    assert served.headers["Docker-Content-Digest"] == idx.digest
    for child in (amd64, arm64):
        assert live_registry.manifest("e2e/multi", child.manifest.digest).body == child.manifest.data

    arm = json.loads(skopeo("inspect", "--tls-verify=false", "--override-arch", "arm64", "--override-os", "linux", ref))
    # skopeo reports the digest of what the reference names (the index), and the rest
    # from the child it picked for the platform.
    assert arm["Digest"] == idx.digest
    assert arm["Architecture"] == "arm64"
    assert arm["Layers"] == [b.digest for b in arm64.layers]

    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--all", "--src-tls-verify=false", ref, f"oci:{out}:v1")
    assert layout_blob(out, idx.digest) == idx.data
    for digest, data in blob_bytes([b for img in (amd64, arm64) for b in (*img.blobs, img.manifest)]).items():
        assert layout_blob(out, digest) == data, digest


def test_list_tags(live_registry, app_layout):
    for tag in ("v2", "latest", "v1", "1.0.0"):
        skopeo_push(f"oci:{app_layout}:v1", _ref(live_registry, "e2e/tags", tag))
    listed = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{live_registry.host}/e2e/tags"))
    assert listed["Repository"] == f"{live_registry.host}/e2e/tags"
    assert sorted(listed["Tags"]) == ["1.0.0", "latest", "v1", "v2"]


def test_delete_removes_manifest_and_its_tags(live_registry, app_image, app_layout):
    for tag in ("v1", "v2"):
        skopeo_push(f"oci:{app_layout}:v1", _ref(live_registry, "e2e/delete", tag))
    skopeo_push(f"oci:{app_layout}:v1", _ref(live_registry, "e2e/delete-other", "v1"))

    skopeo("delete", "--tls-verify=false", _ref(live_registry, "e2e/delete", "v1"))

    for reference in (app_image.manifest.digest, "v1", "v2"):
        response = live_registry.manifest("e2e/delete", reference)
        assert response.status == 404, reference
        assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    tags = live_registry.request("GET", "/v2/e2e/delete/tags/list")
    assert tags.status in (200, 404)
    if tags.status == 200:
        assert tags.json()["tags"] == []
    # The same manifest in another repository is untouched.
    assert skopeo_raw(_ref(live_registry, "e2e/delete-other", "v1")) == app_image.manifest.data


def test_copy_between_repositories_mounts_blobs(live_registry, app_image, app_layout):
    source, target = _ref(live_registry, "e2e/mount-src", "v1"), _ref(live_registry, "e2e/mount-dst", "v1")
    skopeo_push(f"oci:{app_layout}:v1", source)
    log_start = live_registry.log.size()

    skopeo("copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", source, target)

    log = live_registry.log.read(log_start)
    for layer in app_image.layers:
        assert f"mount blob repository=e2e/mount-dst from=e2e/mount-src digest={layer.digest}" in log
        response = live_registry.request("GET", f"/v2/e2e/mount-dst/blobs/{layer.digest}")
        assert response.status == 200
        assert response.body == layer.data
        # Mounted, not uploaded again (skopeo still uploads the small config blob).
        assert f"push blob repository=e2e/mount-dst digest={layer.digest}" not in log
    assert skopeo_raw(target) == app_image.manifest.data


def _children(live_registry, name: str, index: dict) -> dict[str, dict]:
    """Each child manifest of a served list, by architecture, checked against its digest."""
    children = {}
    for entry in index["manifests"]:
        served = live_registry.manifest(name, entry["digest"], accept=entry["mediaType"])
        assert served.status == 200 and sha256(served.body) == entry["digest"]
        assert served.headers["Content-Type"] == entry["mediaType"]
        children[entry["platform"]["architecture"]] = json.loads(served.body)
    return children


def test_copy_all_with_format_v2s2_makes_a_docker_manifest_list(live_registry, tmp_path):
    images = {arch: builders.image("skopeo-list", architecture=arch) for arch in ("amd64", "arm64")}
    layout, _ = builders.index_layout(tmp_path / "src", "v1", list(images.values()))
    ref = _ref(live_registry, "e2e/v2s2-list", "v1")
    skopeo_push(f"oci:{layout}:v1", ref, "--all", "--format", "v2s2")

    raw = skopeo_raw(ref)
    served = live_registry.manifest("e2e/v2s2-list", "v1", accept=builders.DOCKER_LIST)
    assert served.headers["Content-Type"] == builders.DOCKER_LIST
    assert served.headers["Docker-Content-Digest"] == sha256(raw) and served.body == raw
    docker_list = json.loads(raw)
    assert docker_list["mediaType"] == builders.DOCKER_LIST
    assert {m["mediaType"] for m in docker_list["manifests"]} == {builders.DOCKER_MANIFEST}
    for arch, child in _children(live_registry, "e2e/v2s2-list", docker_list).items():
        original = images[arch]
        assert child["config"] == {**original.config.descriptor(), "mediaType": builders.DOCKER_CONFIG}
        assert [layer["digest"] for layer in child["layers"]] == [b.digest for b in original.layers]
        assert {layer["mediaType"] for layer in child["layers"]} == {builders.DOCKER_LAYER}

    # Copied back as it is (no conversion), skopeo keeps the list and its children byte for byte.
    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--all", "--src-tls-verify=false", ref, f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == raw
    for entry in docker_list["manifests"]:
        child_file = out / f"{entry['digest'].split(':', 1)[1]}.manifest.json"
        assert sha256(child_file.read_bytes()) == entry["digest"]


def test_format_oci_keeps_an_oci_image_and_converts_a_docker_one(live_registry, tmp_path, app_image, app_layout):
    # An OCI image copied with an explicit --format oci needs no conversion: same bytes.
    ref = _ref(live_registry, "e2e/format-oci", "v1")
    skopeo_push(f"oci:{app_layout}:v1", ref, "--format", "oci")
    assert skopeo_raw(ref) == app_image.manifest.data

    # A Docker schema2 image in the registry, copied to another repository as OCI.
    docker_ref = _ref(live_registry, "e2e/format-docker", "v1")
    skopeo_push(f"oci:{app_layout}:v1", docker_ref, "--format", "v2s2")
    converted = _ref(live_registry, "e2e/format-converted", "v1")
    skopeo("copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", "--format", "oci", docker_ref, converted)
    raw = skopeo_raw(converted)
    served = live_registry.manifest("e2e/format-converted", "v1", accept=builders.OCI_MANIFEST)
    assert served.headers["Content-Type"] == builders.OCI_MANIFEST and served.body == raw
    manifest = json.loads(raw)
    assert manifest["mediaType"] == builders.OCI_MANIFEST
    assert manifest["config"]["mediaType"] == builders.OCI_CONFIG
    assert [layer["digest"] for layer in manifest["layers"]] == [b.digest for b in app_image.layers]
    for blob in app_image.layers:
        assert live_registry.request("GET", f"/v2/e2e/format-converted/blobs/{blob.digest}").body == blob.data
    # skopeo writes the config anew for OCI (its digest changes), with the same image in it.
    config = live_registry.request("GET", f"/v2/e2e/format-converted/blobs/{manifest['config']['digest']}")
    assert sha256(config.body) == manifest["config"]["digest"]
    original = json.loads(app_image.config.data)
    assert json.loads(config.body)["rootfs"] == original["rootfs"]
    assert json.loads(config.body)["architecture"] == original["architecture"]

    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--src-tls-verify=false", converted, f"oci:{out}:v1")
    assert layout_blob(out, sha256(raw)) == raw
