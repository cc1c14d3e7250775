"""One manifest as the portal shows it (layers, index children, image config, referrers),
and the comparison of two tags."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..models import Manifest, Repository, Tag
from ..oci import mediatypes
from ..oci.errors import ManifestUnknown
from ..oci.imageconfig import IMAGE_CONFIGS, ConfigDiff, ImageConfig, InvalidConfig, LayerDiff, attach_layers
from ..oci.imageconfig import config_diff, layer_diff, platform_string
from ..services.configblobs import read_image_config
from ..services.manifests import manifest_get
from .discovery import referrers_of
from .tags import ChildEntry, index_contents, index_entries


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
    index_size: int = 0  # blobs of the stored children, each once
    referrers: list[dict] = field(default_factory=list)
    subject: str = ""
    subject_present: bool = False

    @property
    def is_artifact(self) -> bool:
        """Its artifactType is not an image config's media type (a signature, an SBOM…)."""
        return not self.is_index and self.manifest.artifact_type not in ("", *IMAGE_CONFIGS)

    @property
    def total_size(self) -> int:
        """Blob bytes, each blob once, as in the tag list and the repository's total: the
        manifest's own bytes (shown apart) are not counted."""
        if self.is_index:
            return self.index_size
        blobs = {layer.digest: layer.size for layer in self.layers}
        if self.config_descriptor:
            blobs[self.config_descriptor.digest] = self.config_descriptor.size
        return sum(blobs.values())


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
        contents = index_contents(repository, {manifest.pk: manifest.payload})[manifest.pk]
        detail.children, detail.index_size = contents.children, contents.size
    else:
        _image_parts(detail, document)
    if detail.subject:
        detail.subject_present = Manifest.objects.filter(repository=repository, digest=detail.subject).exists()
    return detail


@dataclass
class ComparedImage:
    reference: str
    digest: str
    layers: list[Layer]
    config: ImageConfig | None
    platform: str = ""  # for an index: the platform compared
    platforms: list[str] = field(default_factory=list)  # for an index: those stored here


@dataclass
class Comparison:
    first: ComparedImage
    second: ComparedImage
    layers: LayerDiff
    config: ConfigDiff | None
    sizes: dict[str, int]


def _index_image(repository: Repository, index: Manifest, reference: str, platform: str) -> tuple[Manifest, str, list[str]]:
    """The index's image for `platform` (else its first stored one), the platform taken and
    the platforms it has here (one query for the children, one for the image)."""
    entries = [(e["digest"], platform_string(e.get("platform")) or e["digest"]) for e in index_entries(index.payload)]
    stored = set(Manifest.objects.filter(repository=repository, digest__in=[d for d, _ in entries]).values_list("digest", flat=True))
    available = [(d, p) for d, p in entries if d in stored]
    if not available:
        raise ManifestUnknown("the index has no image in this repository", detail={"reference": reference})
    digest, taken = next(((d, p) for d, p in available if p == platform), available[0])
    return Manifest.objects.get(repository=repository, digest=digest), taken, [p for _, p in available]


def _image_of(repository: Repository, reference: str, platform: str = "") -> ComparedImage:
    """The image a tag (or digest) names; for an index, its image for `platform`."""
    manifest = manifest_get(repository_name=repository.name, reference=reference)
    taken, platforms = "", []
    if manifest.media_type in mediatypes.INDEXES:
        manifest, taken, platforms = _index_image(repository, manifest, reference, platform)
    detail = ManifestDetail(manifest=manifest, pretty="", is_index=False, tags=[])
    _image_parts(detail, _document(manifest))
    return ComparedImage(reference, manifest.digest, detail.layers, detail.config, taken, platforms)


def tag_compare(*, repository: Repository, first: str, second: str, first_platform: str = "",
                second_platform: str = "") -> Comparison:
    """Layers added, removed and shared between two tags (or digests), and config changes;
    an index is compared through its image for the platform asked (else its first)."""
    a = _image_of(repository, first, first_platform)
    b = _image_of(repository, second, second_platform)
    diff = layer_diff([layer.digest for layer in a.layers], [layer.digest for layer in b.layers])
    sizes = {layer.digest: layer.size for layer in [*a.layers, *b.layers]}
    config = config_diff(a.config, b.config) if a.config and b.config else None
    return Comparison(a, b, diff, config, sizes)
