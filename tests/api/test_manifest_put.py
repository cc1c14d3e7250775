"""PUT /v2/<name>/manifests/<reference>: every manifest kind, validation, tags, limits."""
from __future__ import annotations

import hashlib
import json

import pytest

from registry_api.models import Manifest, Repository, Tag
from tests import builders
from tests.builders import Blob

from .support import assert_error, sha256

NAME = "library/app"


def document(blob: Blob) -> dict:
    return json.loads(blob.data)


def manifest_blob(doc: dict, media_type: str | None = None) -> Blob:
    return Blob(json.dumps(doc).encode(), media_type or doc.get("mediaType", builders.OCI_MANIFEST))


def tags(client, name: str = NAME) -> list[str]:
    return client.get(f"/v2/{name}/tags/list").json()["tags"]


@pytest.fixture
def blobs_pushed(registry, app_image):
    for blob in app_image.blobs:
        registry.push_blob(NAME, blob)
    return app_image


def test_oci_manifest_is_stored_with_its_digest(client, registry, blobs_pushed):
    manifest = blobs_pushed.manifest
    response = registry.put_manifest(NAME, "latest", manifest)
    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == manifest.digest
    assert response["Location"] == f"/v2/{NAME}/manifests/{manifest.digest}"
    assert "OCI-Subject" not in response
    stored = Manifest.objects.get(digest=manifest.digest)
    assert bytes(stored.payload) == manifest.data
    assert stored.media_type == builders.OCI_MANIFEST


def test_exact_bytes_are_kept(client, registry, blobs_pushed):
    doc = document(blobs_pushed.manifest)
    # Odd spacing, key order and escapes: re-serialising would change the digest.
    raw = ('{  "schemaVersion":2,\n\t"mediaType" : "%s","layers":%s ,"config":%s,'
           '"annotations":{"note":"caf\\u00e9 \\/ é"}}\n\n') % (
        builders.OCI_MANIFEST, json.dumps(doc["layers"], indent=3), json.dumps(doc["config"]))
    manifest = Blob(raw.encode(), builders.OCI_MANIFEST)
    response = registry.put_manifest(NAME, "odd", manifest)
    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == sha256(raw.encode())
    assert client.get(f"/v2/{NAME}/manifests/odd").content == raw.encode()


def test_oci_index_is_stored_after_its_children(client, registry):
    amd, arm = builders.image("multi", architecture="amd64"), builders.image("multi", architecture="arm64")
    registry.push_image(NAME, amd.manifest.digest, amd)
    registry.push_image(NAME, arm.manifest.digest, arm)
    idx = builders.index([amd, arm])
    response = registry.put_manifest(NAME, "multi", idx)
    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == idx.digest
    assert client.get(f"/v2/{NAME}/manifests/multi")["Content-Type"] == builders.OCI_INDEX


def test_docker_schema2_manifest_is_accepted(client, registry):
    img = builders.image("docker", docker=True)
    digest = registry.push_image(NAME, "v2s2", img)
    assert digest == img.manifest.digest
    response = client.get(f"/v2/{NAME}/manifests/v2s2")
    assert response["Content-Type"] == builders.DOCKER_MANIFEST
    assert response.content == img.manifest.data


def test_docker_manifest_list_is_accepted(client, registry):
    images = [builders.image("list", architecture=a, docker=True) for a in ("amd64", "arm64")]
    for img in images:
        registry.push_image(NAME, img.manifest.digest, img)
    listing = builders.index(images, docker=True)
    assert registry.push_manifest(NAME, "list", listing) == listing.digest
    assert client.get(f"/v2/{NAME}/manifests/list")["Content-Type"] == builders.DOCKER_LIST


def test_artifact_with_subject_answers_oci_subject(client, registry, pushed_image):
    artifact = builders.image("sbom", layer_count=1, subject=pushed_image.manifest,
                              artifact_type="application/vnd.example.sbom")
    for blob in artifact.blobs:
        registry.push_blob(NAME, blob)
    response = registry.put_manifest(NAME, artifact.manifest.digest, artifact.manifest)
    assert response.status_code == 201
    assert response["OCI-Subject"] == pushed_image.manifest.digest


def test_manifest_whose_subject_does_not_exist_is_accepted(client, registry):
    absent = builders.image("never-pushed")
    artifact = builders.image("sig", layer_count=1, subject=absent.manifest, artifact_type="application/vnd.example.sig")
    for blob in artifact.blobs:
        registry.push_blob(NAME, blob)
    response = registry.put_manifest(NAME, artifact.manifest.digest, artifact.manifest)
    assert response.status_code == 201
    assert response["OCI-Subject"] == absent.manifest.digest


def test_put_by_digest_stores_without_a_tag(client, registry, blobs_pushed):
    manifest = blobs_pushed.manifest
    response = registry.put_manifest(NAME, manifest.digest, manifest)
    assert response.status_code == 201
    assert "OCI-Tag" not in response
    assert tags(client) == []
    assert client.get(f"/v2/{NAME}/manifests/{manifest.digest}").content == manifest.data


def test_put_by_digest_that_does_not_match_the_bytes_is_digest_invalid(client, registry, blobs_pushed):
    response = registry.put_manifest(NAME, sha256(b"other"), blobs_pushed.manifest)
    assert_error(response, 400, "DIGEST_INVALID")
    assert not Manifest.objects.exists()


def test_put_by_sha512_digest_is_kept_under_that_digest(client, registry, blobs_pushed):
    manifest = blobs_pushed.manifest
    digest = "sha512:" + hashlib.sha512(manifest.data).hexdigest()
    response = registry.put_manifest(NAME, digest, manifest)
    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/{NAME}/manifests/{digest}").content == manifest.data


def test_put_again_is_idempotent(client, registry, blobs_pushed):
    registry.push_manifest(NAME, "latest", blobs_pushed.manifest)
    response = registry.put_manifest(NAME, "latest", blobs_pushed.manifest)
    assert response.status_code == 201
    assert Manifest.objects.count() == 1


def test_missing_layer_is_manifest_blob_unknown(client, registry, app_image):
    registry.push_blob(NAME, app_image.config)
    registry.push_blob(NAME, app_image.layers[0])
    entry = assert_error(registry.put_manifest(NAME, "latest", app_image.manifest), 400, "MANIFEST_BLOB_UNKNOWN")
    assert entry["detail"] == {"digest": app_image.layers[1].digest}
    assert not Manifest.objects.exists()


def test_missing_config_is_manifest_blob_unknown(client, registry, app_image):
    for blob in app_image.layers:
        registry.push_blob(NAME, blob)
    assert_error(registry.put_manifest(NAME, "latest", app_image.manifest), 400, "MANIFEST_BLOB_UNKNOWN")


def test_blob_of_another_repository_is_manifest_blob_unknown(client, registry, app_image):
    for blob in app_image.blobs:
        registry.push_blob("library/other", blob)
    assert_error(registry.put_manifest(NAME, "latest", app_image.manifest), 400, "MANIFEST_BLOB_UNKNOWN")


def test_missing_index_child_is_manifest_blob_unknown(client, registry):
    present, absent = builders.image("a"), builders.image("b", architecture="arm64")
    registry.push_image(NAME, present.manifest.digest, present)
    entry = assert_error(registry.put_manifest(NAME, "multi", builders.index([present, absent])),
                         400, "MANIFEST_BLOB_UNKNOWN")
    assert entry["detail"] == {"digest": absent.manifest.digest}


def test_descriptor_size_that_differs_from_the_blob_is_manifest_invalid(client, registry, blobs_pushed):
    doc = document(blobs_pushed.manifest)
    doc["layers"][0]["size"] += 1
    assert_error(registry.put_manifest(NAME, "latest", manifest_blob(doc)), 400, "MANIFEST_INVALID")


@pytest.mark.parametrize(
    "media_type, body",
    [
        ("application/vnd.docker.distribution.manifest.v1+prettyjws",
         {"schemaVersion": 1, "name": NAME, "tag": "latest", "fsLayers": [], "history": [], "signatures": []}),
        ("application/vnd.docker.distribution.manifest.v1+json",
         {"schemaVersion": 1, "name": NAME, "tag": "latest", "fsLayers": [], "history": []}),
        ("application/json", {"schemaVersion": 1, "name": NAME, "tag": "latest", "fsLayers": []}),
    ],
)
def test_schema1_is_manifest_invalid(client, registry, media_type, body):
    response = registry.put_manifest(NAME, "old", Blob(json.dumps(body).encode(), media_type))
    entry = assert_error(response, 400, "MANIFEST_INVALID")
    assert "schema1" in entry["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"\xff\xfe", b'"a string"'])
def test_body_that_is_not_a_json_object_is_manifest_invalid(client, registry, raw):
    assert_error(registry.put_manifest(NAME, "bad", Blob(raw, builders.OCI_MANIFEST)), 400, "MANIFEST_INVALID")


def test_content_type_that_disagrees_with_media_type_is_manifest_invalid(client, registry, blobs_pushed):
    manifest = Blob(blobs_pushed.manifest.data, builders.DOCKER_MANIFEST)
    entry = assert_error(registry.put_manifest(NAME, "latest", manifest), 400, "MANIFEST_INVALID")
    assert "does not match" in entry["message"]


def test_content_type_parameters_are_ignored(client, registry, blobs_pushed):
    response = client.put(f"/v2/{NAME}/manifests/latest", blobs_pushed.manifest.data,
                          content_type=f"{builders.OCI_MANIFEST}; charset=utf-8")
    assert response.status_code == 201
    assert client.get(f"/v2/{NAME}/manifests/latest")["Content-Type"] == builders.OCI_MANIFEST


def test_manifest_without_media_type_field_takes_the_content_type(client, registry, blobs_pushed):
    doc = document(blobs_pushed.manifest)
    del doc["mediaType"]
    response = registry.put_manifest(NAME, "latest", manifest_blob(doc, builders.OCI_MANIFEST))
    assert response.status_code == 201


def test_unsupported_media_type_is_manifest_invalid(client, registry, blobs_pushed):
    doc = document(blobs_pushed.manifest)
    del doc["mediaType"]
    assert_error(registry.put_manifest(NAME, "latest", manifest_blob(doc, "application/vnd.example+json")),
                 400, "MANIFEST_INVALID")


def test_foreign_layer_with_urls_need_not_be_pushed(client, registry, blobs_pushed):
    doc = document(blobs_pushed.manifest)
    doc["layers"].append({
        "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "digest": sha256(b"windows base"), "size": 12, "urls": ["https://example.com/base.tgz"],
    })
    assert registry.put_manifest(NAME, "win", manifest_blob(doc)).status_code == 201


def test_foreign_layer_urls_are_neither_checked_nor_filtered(client, registry, blobs_pushed):
    """README: no allow/deny list; the URLs are served back as pushed, never fetched."""
    doc = document(blobs_pushed.manifest)
    doc["layers"].append({
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": sha256(b"windows base"), "size": 12, "urls": ["http://10.0.0.1/anything", "ftp://x/y"],
    })
    blob = manifest_blob(doc)
    assert registry.put_manifest(NAME, "win", blob).status_code == 201
    assert client.get(f"/v2/{NAME}/manifests/win").content == blob.data


def test_foreign_layer_without_urls_must_be_pushed(client, registry, blobs_pushed):
    doc = document(blobs_pushed.manifest)
    missing = sha256(b"windows base")
    doc["layers"].append({
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": missing, "size": 12,
    })
    entry = assert_error(registry.put_manifest(NAME, "win", manifest_blob(doc)), 400, "MANIFEST_BLOB_UNKNOWN")
    assert entry["detail"] == {"digest": missing}


def test_manifest_over_the_size_limit_is_413(client, registry, settings, blobs_pushed):
    doc = document(blobs_pushed.manifest)
    settings.REGISTRY_MANIFEST_MAX_BYTES = len(blobs_pushed.manifest.data) + 100
    doc["annotations"] = {"padding": "x" * 200}
    assert_error(registry.put_manifest(NAME, "big", manifest_blob(doc)), 413, "MANIFEST_INVALID")
    assert not Manifest.objects.exists()
    assert registry.put_manifest(NAME, "fits", blobs_pushed.manifest).status_code == 201


def test_manifest_of_four_megabytes_is_accepted_by_default(client, registry, blobs_pushed):
    doc = document(blobs_pushed.manifest)
    doc["annotations"] = {"padding": "x" * (4 * 1000 * 1000)}
    big = manifest_blob(doc)
    assert len(big.data) > 4_000_000
    assert registry.put_manifest(NAME, "big", big).status_code == 201


@pytest.mark.parametrize("tag", [".hidden", "-dash", "a" * 129, "t@g", "tag+plus", "ünicode"])
def test_bad_tag_is_manifest_invalid(client, registry, blobs_pushed, tag):
    entry = assert_error(registry.put_manifest(NAME, tag, blobs_pushed.manifest), 400, "MANIFEST_INVALID")
    assert entry["message"] == "invalid tag"


def test_several_tags_in_one_put_answer_oci_tag(client, registry, blobs_pushed):
    manifest = blobs_pushed.manifest
    response = client.put(f"/v2/{NAME}/manifests/{manifest.digest}?tag=a&tag=b&tag=c",
                          manifest.data, content_type=manifest.media_type)
    assert response.status_code == 201
    # One OCI-Tag per tag on the wire; the test client shows repeated headers joined.
    assert response["OCI-Tag"] == "a, b, c"
    assert tags(client) == ["a", "b", "c"]


def test_at_least_ten_tags_are_accepted_in_one_put(client, registry, blobs_pushed):
    manifest = blobs_pushed.manifest
    query = "&".join(f"tag=t{i:02d}" for i in range(10))
    response = client.put(f"/v2/{NAME}/manifests/{manifest.digest}?{query}", manifest.data,
                          content_type=manifest.media_type)
    assert response.status_code == 201
    assert len(tags(client)) == 10


def test_invalid_tag_in_query_is_manifest_invalid_and_stores_nothing(client, registry, blobs_pushed):
    manifest = blobs_pushed.manifest
    response = client.put(f"/v2/{NAME}/manifests/{manifest.digest}?tag=ok&tag=.bad",
                          manifest.data, content_type=manifest.media_type)
    assert_error(response, 400, "MANIFEST_INVALID")
    assert not Manifest.objects.exists()


def test_too_many_tags_in_one_put_is_414(client, registry, blobs_pushed):
    manifest = blobs_pushed.manifest
    query = "&".join(f"tag=t{i}" for i in range(101))
    response = client.put(f"/v2/{NAME}/manifests/{manifest.digest}?{query}", manifest.data,
                          content_type=manifest.media_type)
    assert response.status_code == 414
    assert not Tag.objects.exists()


def test_tag_moves_to_a_new_manifest(client, registry, pushed_image):
    newer = builders.image("app-v2")
    registry.push_image(NAME, "latest", newer)
    response = client.get(f"/v2/{NAME}/manifests/latest")
    assert response["Docker-Content-Digest"] == newer.manifest.digest
    assert response.content == newer.manifest.data
    # The old manifest is still there by digest, untagged.
    assert client.get(f"/v2/{NAME}/manifests/{pushed_image.manifest.digest}").status_code == 200
    assert tags(client) == ["latest"]


def test_rejected_push_into_a_new_name_creates_no_repository(client, registry, app_image):
    assert_error(registry.put_manifest("fresh/name", "latest", app_image.manifest), 400, "MANIFEST_BLOB_UNKNOWN")
    assert not Repository.objects.filter(name="fresh/name").exists()
    assert client.get("/v2/_catalog").json()["repositories"] == []


# Config + layers: 2 and 16 blobs are looked up one by one, 17 and 41 in one IN query.
@pytest.mark.parametrize("layer_count", [1, 15, 16, 40])
def test_every_blob_is_checked_however_many_the_manifest_names(client, registry, layer_count):
    from registry_api.services import manifests

    assert manifests.LOOKUPS_PER_BLOB_UP_TO == 16
    img = builders.image(f"many{layer_count}", layer_count=layer_count)
    registry.push_blob("library/other", img.layers[-1])  # visible elsewhere only: not linked here
    for blob in img.blobs[:-1]:
        registry.push_blob(NAME, blob)
    entry = assert_error(registry.put_manifest(NAME, "latest", img.manifest), 400, "MANIFEST_BLOB_UNKNOWN")
    assert entry["detail"] == {"digest": img.layers[-1].digest}
    doc = document(img.manifest)
    doc["layers"][-1]["size"] += 1
    registry.push_blob(NAME, img.layers[-1])
    assert_error(registry.put_manifest(NAME, "latest", manifest_blob(doc)), 400, "MANIFEST_INVALID")
    assert not Manifest.objects.exists()
    assert registry.put_manifest(NAME, "latest", img.manifest).status_code == 201
    manifest = Manifest.objects.get()
    assert sorted(manifest.references.values_list("blob__digest", flat=True)) == sorted(b.digest for b in img.blobs)
