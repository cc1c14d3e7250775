"""One manifest as the portal shows it (layers, index children, image config, referrers),
and the comparison of two tags."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from storage_backends import get_storage
from storage_backends.base import BlobNotFound

from .. import mediatypes
from ..errors import ManifestUnknown
from ..imageconfig import IMAGE_CONFIGS, ConfigDiff, ImageConfig, InvalidConfig, LayerDiff, attach_layers
from ..imageconfig import config_diff, layer_diff, parse_config
from ..models import Manifest, Repository, Tag
from ..services.manifests import manifest_get
from .discovery import referrers_of
from .repositories import ChildEntry, index_children

logger = logging.getLogger(__name__)

# Image configs are small JSON documents; a "config" larger than this is not read whole.
CONFIG_MAX_BYTES = 4 * 1024 * 1024


@dataclass
class Layer:
    digest: str
    media_type: str
    size: int


@dataclass
class ManifestDetail:
    manifest: Manifest
    pretty: str  # the payload indented; the stored bytes stay as pushed
    is_index: bool
    tags: list[str]
    layers: list[Layer] = field(default_factory=list)
    config_descriptor: Layer | None = None
    config: ImageConfig | None = None
    config_error: str = ""
    children: list[ChildEntry] = field(default_factory=list)
    referrers: list[dict] = field(default_factory=list)
    subject: str = ""
    subject_present: bool = False

    @property
    def is_artifact(self) -> bool:
        """Its artifactType is not an image config's media type (a signature, an SBOM…)."""
        return not self.is_index and self.manifest.artifact_type not in ("", *IMAGE_CONFIGS)

    @property
    def total_size(self) -> int:
        own = sum(layer.size for layer in self.layers) + (self.config_descriptor.size if self.config_descriptor else 0)
        return self.manifest.size + own + sum(child.size for child in self.children)


def _document(manifest: Manifest) -> dict:
    try:
        document = json.loads(bytes(manifest.payload))
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _descriptor(value) -> Layer | None:
    if not isinstance(value, dict) or not isinstance(value.get("digest"), str):
        return None
    size = value.get("size")
    return Layer(value["digest"], str(value.get("mediaType", "")), size if isinstance(size, int) else 0)


def _read_at_most(stream, limit: int) -> bytes:
    # A stream (a socket-backed one in other backends) may return less than asked per read.
    parts, remaining = [], limit
    while remaining > 0:
        chunk = stream.read(min(remaining, 1024 * 1024))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def read_image_config(digest: str) -> ImageConfig:
    """The config blob `digest` read from storage (capped) and parsed; InvalidConfig if not."""
    try:
        with get_storage().open(digest) as stream:
            data = _read_at_most(stream, CONFIG_MAX_BYTES + 1)
    except BlobNotFound:
        logger.error("config blob %s is recorded but missing from storage", digest)
        raise InvalidConfig("the config blob is missing from storage") from None
    if len(data) > CONFIG_MAX_BYTES:
        raise InvalidConfig(f"the config is larger than {CONFIG_MAX_BYTES} bytes")
    return parse_config(data)


def _image_parts(detail: ManifestDetail, document: dict) -> None:
    detail.config_descriptor = _descriptor(document.get("config"))
    detail.layers = [layer for layer in map(_descriptor, document.get("layers") or []) if layer]
    if detail.config_descriptor is None or detail.config_descriptor.media_type not in IMAGE_CONFIGS:
        return  # an artifact: its "config" is not an image config
    try:
        config = read_image_config(detail.config_descriptor.digest)
    except InvalidConfig as exc:
        detail.config_error = str(exc)
        return
    attach_layers(config.history, [(layer.digest, layer.size) for layer in detail.layers])
    detail.config = config


def manifest_detail(*, repository: Repository, digest: str) -> ManifestDetail:
    manifest = Manifest.objects.filter(repository=repository, digest=digest).first()
    if manifest is None:
        raise ManifestUnknown(detail={"reference": digest})
    document = _document(manifest)
    detail = ManifestDetail(
        manifest=manifest,
        pretty=json.dumps(document, indent=2, ensure_ascii=False) if document else bytes(manifest.payload).decode(errors="replace"),
        is_index=manifest.media_type in mediatypes.INDEXES,
        tags=sorted(Tag.objects.filter(manifest=manifest).values_list("name", flat=True)),
        referrers=referrers_of(repository_name=repository.name, digest=digest, artifact_type=None),
        subject=manifest.subject_digest,
    )
    if detail.is_index:
        detail.children = index_children(repository=repository, manifest=manifest)
    else:
        _image_parts(detail, document)
    if detail.subject:
        detail.subject_present = Manifest.objects.filter(repository=repository, digest=detail.subject).exists()
    return detail


@dataclass
class ComparedImage:
    reference: str
    digest: str
    platform_note: str  # set when the tag is an index and one of its images was taken
    layers: list[Layer]
    config: ImageConfig | None


@dataclass
class Comparison:
    first: ComparedImage
    second: ComparedImage
    layers: LayerDiff
    config: ConfigDiff | None
    sizes: dict[str, int]


def _image_of(repository: Repository, reference: str) -> ComparedImage:
    """The image a tag names; for an index, its first child stored in the repository."""
    manifest = manifest_get(repository_name=repository.name, reference=reference)
    note = ""
    if manifest.media_type in mediatypes.INDEXES:
        child = next((c for c in index_children(repository=repository, manifest=manifest) if c.present), None)
        if child is None:
            raise ManifestUnknown("the index has no image in this repository", detail={"reference": reference})
        note = child.platform or child.digest
        manifest = Manifest.objects.get(repository=repository, digest=child.digest)
    detail = ManifestDetail(manifest=manifest, pretty="", is_index=False, tags=[])
    _image_parts(detail, _document(manifest))
    return ComparedImage(reference, manifest.digest, note, detail.layers, detail.config)


def tag_compare(*, repository: Repository, first: str, second: str) -> Comparison:
    """Layers added, removed and shared between two tags (or digests), and config changes."""
    a, b = _image_of(repository, first), _image_of(repository, second)
    diff = layer_diff([layer.digest for layer in a.layers], [layer.digest for layer in b.layers])
    sizes = {layer.digest: layer.size for layer in [*a.layers, *b.layers]}
    config = config_diff(a.config, b.config) if a.config and b.config else None
    return Comparison(a, b, diff, config, sizes)
