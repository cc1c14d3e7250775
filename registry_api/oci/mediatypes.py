"""Manifest media types and what a manifest's JSON refers to, without Django.

`parse_manifest` validates the shape of a manifest enough to store it safely and returns
the descriptors the registry must check (blobs, child manifests) and the referrers data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .reference import InvalidReference, parse_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
IMAGE_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = IMAGE_MANIFESTS + INDEXES
# Layers with `urls` of these types live elsewhere (Windows base layers) and are not pushed.
FOREIGN_LAYERS = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
)


class InvalidManifest(ValueError):
    pass


class Schema1Manifest(InvalidManifest):
    pass


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass
class ParsedManifest:
    media_type: str
    blobs: list[Descriptor] = field(default_factory=list)
    config: Descriptor | None = None  # an image manifest's config (also first in `blobs`)
    children: list[Descriptor] = field(default_factory=list)
    subject: str = ""
    artifact_type: str = ""
    annotations: dict[str, str] = field(default_factory=dict)


def base_media_type(content_type: str) -> str:
    """`Content-Type` without parameters, lowercased."""
    return content_type.split(";", 1)[0].strip().lower()


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise InvalidManifest(f"{where} is not a descriptor object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidManifest(f"{where} has no mediaType")
    if not isinstance(digest, str):
        raise InvalidManifest(f"{where} has no digest")
    try:
        parse_digest(digest)
    except InvalidReference as exc:
        raise InvalidManifest(f"{where}: {exc}") from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidManifest(f"{where} has no valid size")
    return Descriptor(media_type, digest, size)


def parse_manifest(payload: bytes, content_type: str) -> ParsedManifest:
    """Validate a manifest body against its declared media type."""
    declared = base_media_type(content_type) if content_type else ""
    if declared in DOCKER_SCHEMA1:
        raise Schema1Manifest("Docker schema1 manifests are not supported; push schema2 or OCI")
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise InvalidManifest("manifest is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidManifest("manifest is not a JSON object")
    body_type = document.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise InvalidManifest("mediaType is not a string")
    if document.get("schemaVersion") == 1 or body_type in DOCKER_SCHEMA1:
        raise Schema1Manifest("Docker schema1 manifests are not supported; push schema2 or OCI")
    if declared and body_type and declared != body_type:
        raise InvalidManifest(f"Content-Type {declared} does not match mediaType {body_type}")
    media_type = declared or body_type or ""
    if media_type not in MANIFEST_TYPES:
        raise InvalidManifest(f"unsupported manifest media type {media_type or '(none)'}")
    if document.get("schemaVersion") != 2:
        raise InvalidManifest("schemaVersion must be 2")
    parsed = ParsedManifest(media_type=media_type)
    if media_type in IMAGE_MANIFESTS:
        config = parsed.config = _descriptor(document.get("config"), "config")
        parsed.blobs.append(config)
        layers = document.get("layers")
        if not isinstance(layers, list):
            raise InvalidManifest("layers must be a list")
        for i, layer in enumerate(layers):
            descriptor = _descriptor(layer, f"layers[{i}]")
            if descriptor.media_type in FOREIGN_LAYERS and layer.get("urls"):
                continue
            parsed.blobs.append(descriptor)
        parsed.artifact_type = _string(document, "artifactType") or config.media_type
    else:
        children = document.get("manifests")
        if not isinstance(children, list):
            raise InvalidManifest("manifests must be a list")
        parsed.children = [_descriptor(c, f"manifests[{i}]") for i, c in enumerate(children)]
        parsed.artifact_type = _string(document, "artifactType")
    if "subject" in document:
        parsed.subject = _descriptor(document["subject"], "subject").digest
    annotations = document.get("annotations", {})
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise InvalidManifest("annotations must map strings to strings")
    parsed.annotations = annotations
    return parsed


def _string(document: dict, key: str) -> str:
    value = document.get(key, "")
    if not isinstance(value, str):
        raise InvalidManifest(f"{key} must be a string")
    return value
