"""registry_api.oci.mediatypes.parse_manifest: what each manifest kind refers to, and what is refused."""
from __future__ import annotations

import json

import pytest

from registry_api.oci import mediatypes
from registry_api.oci.mediatypes import Descriptor, InvalidManifest, Schema1Manifest, base_media_type, parse_manifest
from tests import builders


def parse(doc: dict | bytes, content_type: str | None = None):
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    if content_type is None:
        content_type = doc.get("mediaType", "") if isinstance(doc, dict) else ""
    return parse_manifest(payload, content_type)


def image_doc(**kwargs) -> dict:
    return json.loads(builders.image("unit", **kwargs).manifest.data)


def descriptor(blob: builders.Blob) -> Descriptor:
    return Descriptor(blob.media_type, blob.digest, len(blob.data))


@pytest.mark.parametrize(
    "value, expected",
    [
        ("application/vnd.oci.image.manifest.v1+json", builders.OCI_MANIFEST),
        ("Application/Vnd.OCI.Image.Manifest.v1+JSON; charset=utf-8", builders.OCI_MANIFEST),
        ("  application/json ;q=1", "application/json"),
        ("", ""),
    ],
)
def test_base_media_type_drops_parameters(value, expected):
    assert base_media_type(value) == expected


@pytest.mark.parametrize("docker", [False, True])
def test_image_manifest_lists_config_and_layers(docker):
    img = builders.image("unit", layer_count=3, docker=docker)
    parsed = parse_manifest(img.manifest.data, img.manifest.media_type)
    assert parsed.media_type == (builders.DOCKER_MANIFEST if docker else builders.OCI_MANIFEST)
    assert parsed.blobs == [descriptor(b) for b in img.blobs]
    assert parsed.children == []
    assert parsed.subject == ""
    assert parsed.artifact_type == img.config.media_type


@pytest.mark.parametrize("docker", [False, True])
def test_index_lists_its_children(docker):
    images = [builders.image("a", docker=docker), builders.image("b", architecture="arm64", docker=docker)]
    idx = builders.index(images, docker=docker)
    parsed = parse_manifest(idx.data, idx.media_type)
    assert parsed.media_type == idx.media_type
    assert parsed.blobs == []
    assert parsed.children == [descriptor(i.manifest) for i in images]
    assert parsed.artifact_type == ""


def test_artifact_type_subject_and_annotations_are_read():
    subject = builders.image("subject").manifest
    doc = image_doc(subject=subject, artifact_type="application/vnd.example", annotations={"k": "v"})
    parsed = parse(doc)
    assert parsed.artifact_type == "application/vnd.example"
    assert parsed.subject == subject.digest
    assert parsed.annotations == {"k": "v"}


def test_index_artifact_type_and_subject_are_read():
    doc = json.loads(builders.index([builders.image("x")]).data)
    doc["artifactType"] = "application/vnd.example.bundle"
    doc["subject"] = builders.image("s").manifest.descriptor()
    parsed = parse(doc)
    assert parsed.artifact_type == "application/vnd.example.bundle"
    assert parsed.subject == builders.image("s").manifest.digest


def test_media_type_may_come_from_the_content_type_alone():
    doc = image_doc()
    del doc["mediaType"]
    assert parse(doc, builders.OCI_MANIFEST).media_type == builders.OCI_MANIFEST


def test_media_type_may_come_from_the_body_alone():
    assert parse(image_doc(), "").media_type == builders.OCI_MANIFEST


def test_foreign_layers_with_urls_are_not_required():
    doc = image_doc(layer_count=1)
    foreign = {"mediaType": mediatypes.FOREIGN_LAYERS[0], "digest": "sha256:" + "b" * 64, "size": 5,
               "urls": ["https://example.com/x"]}
    doc["layers"].append(foreign)
    assert len(parse(doc).blobs) == 2  # config + the one pushed layer
    del foreign["urls"]
    assert len(parse(doc).blobs) == 3  # without urls the registry must hold it


@pytest.mark.parametrize(
    "content_type, doc",
    [
        ("application/vnd.docker.distribution.manifest.v1+prettyjws", {"schemaVersion": 1}),
        ("application/vnd.docker.distribution.manifest.v1+json", {"schemaVersion": 1}),
        ("application/vnd.docker.distribution.manifest.v1+json; charset=utf-8", {}),
        ("", {"schemaVersion": 1, "fsLayers": []}),
        ("application/json", {"schemaVersion": 1}),
        ("", {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v1+prettyjws"}),
    ],
)
def test_schema1_is_refused(content_type, doc):
    with pytest.raises(Schema1Manifest):
        parse(doc, content_type)


def _with(doc: dict, path: list, value) -> dict:
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    "path, value, message",
    [
        (["schemaVersion"], 3, "schemaVersion"),
        (["schemaVersion"], KeyError, "schemaVersion"),
        (["mediaType"], 5, "mediaType"),
        (["config"], KeyError, "config"),
        (["config"], "sha256:x", "config"),
        (["config", "digest"], "sha256:short", "config"),
        (["config", "digest"], KeyError, "config"),
        (["config", "mediaType"], "", "config"),
        (["config", "size"], -1, "config"),
        (["config", "size"], "12", "config"),
        (["config", "size"], True, "config"),
        (["layers"], KeyError, "layers"),
        (["layers"], {}, "layers"),
        (["layers", 0, "digest"], "md5:" + "a" * 32, "layers[0]"),
        (["annotations"], {"k": 1}, "annotations"),
        (["annotations"], ["k"], "annotations"),
        (["artifactType"], 7, "artifactType"),
        (["subject"], {"digest": "sha256:" + "a" * 64}, "subject"),
    ],
)
def test_malformed_image_manifest_is_refused(path, value, message):
    with pytest.raises(InvalidManifest) as info:
        parse(_with(image_doc(), path, value), builders.OCI_MANIFEST)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "path, value",
    [(["manifests"], KeyError), (["manifests"], "x"), (["manifests", 0, "size"], None), (["artifactType"], [])],
)
def test_malformed_index_is_refused(path, value):
    doc = json.loads(builders.index([builders.image("x")]).data)
    with pytest.raises(InvalidManifest):
        parse(_with(doc, path, value))


@pytest.mark.parametrize("payload", [b"", b"{", b"null", b"[]", b"42", b"\xff", b'"text"'])
def test_non_object_bodies_are_refused(payload):
    with pytest.raises(InvalidManifest):
        parse_manifest(payload, builders.OCI_MANIFEST)


def test_content_type_and_media_type_must_agree():
    with pytest.raises(InvalidManifest, match="does not match"):
        parse(image_doc(), builders.DOCKER_MANIFEST)


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/vnd.oci.image.config.v1+json"])
def test_unknown_media_types_are_refused(content_type):
    doc = image_doc()
    del doc["mediaType"]
    with pytest.raises(InvalidManifest, match="unsupported"):
        parse(doc, content_type)


def test_no_media_type_anywhere_is_refused():
    doc = image_doc()
    del doc["mediaType"]
    with pytest.raises(InvalidManifest, match="unsupported"):
        parse(doc, "")
