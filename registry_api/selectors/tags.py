"""A repository's tags and manifests as the portal lists them: tag pages (search, sizes,
platforms, build times), untagged manifests, tag names for the compare form, and the
children of indexes.

Sizes are blob bytes (config and layers, each blob once; for an index, the union over its
images stored here). The manifests themselves are small JSON documents kept in the
database and counted nowhere, as in the repository's total, so a tag is never "bigger"
than its repository. Each page is a fixed number of queries whatever its length.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from ..models import Manifest, ManifestReference, Repository, Tag
from ..oci import mediatypes
from ..oci.imageconfig import IMAGE_CONFIGS, platform_string

TAG_PAGE_SIZE = 50
UNTAGGED_PAGE_SIZE = 20


def is_artifact(media_type: str, artifact_type: str) -> bool:
    """Not a runnable image: a signature, an SBOM, a Helm chart… (its artifactType says)."""
    return media_type not in mediatypes.INDEXES and artifact_type not in ("", *IMAGE_CONFIGS)


@dataclass
class ChildEntry:
    digest: str
    media_type: str
    platform: str
    size: int  # blob bytes of the child, when it is stored in the repository
    present: bool
    built_at: datetime | None = None


@dataclass
class IndexContents:
    children: list[ChildEntry]
    size: int  # blobs of the stored children, each once
    built_at: datetime | None  # the newest build among them


@dataclass
class TagRow:
    name: str
    digest: str
    media_type: str
    size: int
    pushed_at: datetime
    built_at: datetime | None  # the image config's `created`, not the push
    is_index: bool
    children: list[ChildEntry] = field(default_factory=list)
    artifact_type: str = ""

    @property
    def is_artifact(self) -> bool:
        return is_artifact(self.media_type, self.artifact_type)

    @property
    def missing_children(self) -> int:
        return sum(not child.present for child in self.children)


def blob_bytes(manifest_field: str) -> Subquery:
    """Bytes of the blobs (config and layers) the manifest in the outer row's `manifest_field`
    references: "pk" on manifests, "manifest_id" on tags."""
    rows = (
        ManifestReference.objects.filter(manifest=OuterRef(manifest_field), blob__isnull=False)
        .order_by().values("manifest")
    )
    return Subquery(rows.annotate(v=Sum("blob__size")).values("v")[:1])


def index_entries(payload: bytes) -> list[dict]:
    try:
        entries = json.loads(bytes(payload)).get("manifests", [])
    except (ValueError, AttributeError):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("digest"), str)]


def index_contents(repository: Repository, payloads: dict[int, bytes]) -> dict[int, IndexContents]:
    """The entries of each index (pk -> payload), whether each child is stored in the
    repository, and the sizes: two queries for any number of indexes."""
    entries = {pk: index_entries(payload) for pk, payload in payloads.items()}
    digests = {e["digest"] for listed in entries.values() for e in listed}
    built = dict(
        Manifest.objects.filter(repository=repository, digest__in=digests).values_list("digest", "image_created")
    ) if digests else {}
    blobs: dict[str, dict[int, int]] = defaultdict(dict)
    if built:
        references = ManifestReference.objects.filter(
            manifest__repository=repository, manifest__digest__in=list(built), blob__isnull=False,
        ).values_list("manifest__digest", "blob_id", "blob__size")
        for digest, blob_id, size in references:
            blobs[digest][blob_id] = size
    contents = {}
    for pk, listed in entries.items():
        children = [
            ChildEntry(
                digest=e["digest"], media_type=str(e.get("mediaType", "")), platform=platform_string(e.get("platform")),
                size=sum(blobs[e["digest"]].values()), present=e["digest"] in built, built_at=built.get(e["digest"]),
            )
            for e in listed
        ]
        union = {blob_id: size for child in children for blob_id, size in blobs[child.digest].items()}
        times = [child.built_at for child in children if child.built_at]
        contents[pk] = IndexContents(children, sum(union.values()), max(times, default=None))
    return contents


def tag_count(*, repository: Repository) -> int:
    return Tag.objects.filter(repository=repository).count()


def tag_page(*, repository: Repository, query: str = "", page: int = 1, page_size: int = TAG_PAGE_SIZE) -> tuple[Page, list[TagRow]]:
    """A page of the repository's tags (those whose name contains `query`), newest push first.

    At most five queries per page: the count, the tags with their manifests' figures, and for
    the indexes on the page their payloads, their stored children and those children's blobs.
    """
    tags = Tag.objects.filter(repository=repository)
    if query:
        tags = tags.filter(name__contains=query.strip())
    tags = (
        tags.select_related("manifest")
        .defer("manifest__payload", "manifest__annotations")
        .annotate(blob_bytes=Coalesce(blob_bytes("manifest_id"), 0))
        .order_by("-updated_at", "name")
    )
    paged = Paginator(tags, page_size).get_page(page)
    index_ids = [t.manifest_id for t in paged if t.manifest.media_type in mediatypes.INDEXES]
    payloads = dict(Manifest.objects.filter(pk__in=index_ids).values_list("pk", "payload")) if index_ids else {}
    contents = index_contents(repository, payloads)
    rows = []
    for tag in paged:
        manifest = tag.manifest
        row = TagRow(
            name=tag.name, digest=manifest.digest, media_type=manifest.media_type, size=tag.blob_bytes,
            pushed_at=tag.updated_at, built_at=manifest.image_created, is_index=manifest.pk in payloads,
            artifact_type=manifest.artifact_type,
        )
        if row.is_index:
            index = contents[manifest.pk]
            row.children, row.size, row.built_at = index.children, index.size, index.built_at
        rows.append(row)
    return paged, rows


@dataclass
class UntaggedRow:
    digest: str
    media_type: str
    size: int
    pushed_at: datetime
    built_at: datetime | None
    role: str  # why it may be there: "index image", "referrer", "artifact" or "pushed by digest"
    subject: str = ""  # a referrer's subject


def untagged_page(*, repository: Repository, page: int = 1, page_size: int = UNTAGGED_PAGE_SIZE) -> tuple[Page, list[UntaggedRow]]:
    """Manifests no tag names (pushed by digest: index children, signatures, or leftovers),
    newest first, so they can be found and deleted. Two queries per page."""
    manifests = (
        Manifest.objects.filter(repository=repository)
        .exclude(Exists(Tag.objects.filter(manifest=OuterRef("pk"))))
        .defer("payload", "annotations")
        .annotate(
            blob_bytes=Coalesce(blob_bytes("pk"), 0),
            in_index=Exists(ManifestReference.objects.filter(manifest__repository=repository, child_digest=OuterRef("digest"))),
        )
        .order_by("-created_at", "-id")
    )
    paged = Paginator(manifests, page_size).get_page(page)
    rows = []
    for m in paged:
        role = ("index image" if m.in_index else "referrer" if m.subject_digest
                else "artifact" if is_artifact(m.media_type, m.artifact_type) else "pushed by digest")
        rows.append(UntaggedRow(m.digest, m.media_type, m.blob_bytes, m.created_at, m.image_created, role, m.subject_digest))
    return paged, rows


def _runnable() -> Q:
    """Tags naming an image or an index, not a signature or an SBOM."""
    return (Q(manifest__media_type__in=mediatypes.INDEXES) | Q(manifest__artifact_type="")
            | Q(manifest__artifact_type__in=IMAGE_CONFIGS))


def compare_defaults(*, repository: Repository) -> tuple[str, str]:
    """(older, newer): the two most recently pushed tags of images or indexes ("" if none)."""
    names = list(
        Tag.objects.filter(_runnable(), repository=repository).order_by("-updated_at", "name").values_list("name", flat=True)[:2]
    )
    names += [""] * (2 - len(names))
    return names[1], names[0]
