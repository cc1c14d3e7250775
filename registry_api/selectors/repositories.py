"""Repositories as the portal lists them: search, namespace filter, sort, pages; sizes; tags.

Each page is one query whatever its length: tag counts, sizes and last-push times are
correlated subqueries evaluated by the database, and the page is cut by LIMIT/OFFSET.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest

from .. import mediatypes
from ..imageconfig import IMAGE_CONFIGS, platform_string
from ..models import Manifest, ManifestReference, Repository, RepositoryBlob, Tag
from .dashboard import namespace_expression

# ?sort= values and their ordering; "-" means descending. The name breaks ties.
SORTS = {
    "name": ("name",),
    "-name": ("-name",),
    "tags": ("tag_count", "name"),
    "-tags": ("-tag_count", "name"),
    "size": ("size", "name"),
    "-size": ("-size", "name"),
    "pushed": ("last_push", "name"),
    "-pushed": ("-last_push", "name"),
}
PAGE_SIZE = 50
TAG_PAGE_SIZE = 50


def _per_repository(model, aggregate) -> Subquery:
    """`aggregate` over the rows of `model` belonging to the outer repository."""
    rows = model.objects.filter(repository=OuterRef("pk")).order_by().values("repository")
    return Subquery(rows.annotate(v=aggregate).values("v")[:1])


def with_listing_figures(repositories: QuerySet) -> QuerySet:
    """Annotate tag count, size (bytes of linked blobs) and last push on each repository."""
    zero = Value(0, output_field=IntegerField())
    last_tag = _per_repository(Tag, Max("updated_at"))
    last_manifest = _per_repository(Manifest, Max("created_at"))
    return repositories.annotate(
        tag_count=Coalesce(_per_repository(Tag, Count("id")), zero),
        size=Coalesce(_per_repository(RepositoryBlob, Sum("blob__size")), zero),
        # A tag moves at every push of it; a digest-only push leaves only the manifest row.
        last_push=Greatest(Coalesce(last_tag, last_manifest), Coalesce(last_manifest, last_tag)),
    )


def repository_search(*, repositories: QuerySet, query: str = "", namespace: str = "") -> QuerySet:
    if query:
        repositories = repositories.filter(name__contains=query.strip().lower())
    if namespace:
        repositories = repositories.filter(Q(name=namespace) | Q(name__startswith=f"{namespace}/"))
    return repositories


def repository_list_page(
    *, repositories: QuerySet, query: str = "", namespace: str = "", sort: str = "name", page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Page:
    """One page of repositories with their figures; an unknown sort falls back to the name."""
    found = repository_search(repositories=repositories, query=query, namespace=namespace)
    ordered = with_listing_figures(found).order_by(*SORTS.get(sort, SORTS["name"]))
    return Paginator(ordered.only("name", "public"), page_size).get_page(page)


def namespaces_of(*, repositories: QuerySet) -> list[str]:
    """The distinct namespaces (first name components) among `repositories`, sorted."""
    rows = repositories.order_by().annotate(ns=namespace_expression()).values_list("ns", flat=True).distinct()
    return sorted(rows)


@dataclass
class RepositorySizes:
    total: int  # bytes of every blob the repository links
    unique: int  # of which no other repository links: what deleting it would free


def repository_sizes(*, repository: Repository) -> RepositorySizes:
    links = RepositoryBlob.objects.filter(repository=repository)
    shared = RepositoryBlob.objects.filter(blob=OuterRef("blob")).exclude(repository=repository)
    figures = links.aggregate(
        total=Coalesce(Sum("blob__size"), 0),
        unique=Coalesce(Sum("blob__size", filter=~Q(Exists(shared))), 0),
    )
    return RepositorySizes(figures["total"], figures["unique"])


@dataclass
class TagRow:
    name: str
    digest: str
    media_type: str
    size: int  # the manifest and the blobs it references; for an index, its children too
    pushed_at: object
    created_at: object
    is_index: bool
    platforms: list[str] = field(default_factory=list)
    artifact_type: str = ""

    @property
    def is_artifact(self) -> bool:
        """Not a runnable image: a signature, an SBOM, a Helm chart… (its artifactType says)."""
        return not self.is_index and self.artifact_type not in ("", *IMAGE_CONFIGS)


def _blob_bytes(manifest_field: str) -> Subquery:
    """Bytes of the blobs (config and layers) the manifest in the outer row's `manifest_field`
    references: "pk" on manifests, "manifest_id" on tags."""
    rows = (
        ManifestReference.objects.filter(manifest=OuterRef(manifest_field), blob__isnull=False)
        .order_by().values("manifest")
    )
    return Subquery(rows.annotate(v=Sum("blob__size")).values("v")[:1])


def tag_page(*, repository: Repository, page: int = 1, page_size: int = TAG_PAGE_SIZE) -> tuple[Page, list[TagRow]]:
    """A page of the repository's tags, newest push first, with sizes and index platforms.

    Three queries per page: the count, the tags with their manifests' figures, and the
    children of the indexes on the page (their platforms come from the index payloads).
    """
    tags = (
        Tag.objects.filter(repository=repository)
        .select_related("manifest")
        .defer("manifest__payload", "manifest__annotations")
        .annotate(blob_bytes=Coalesce(_blob_bytes("manifest_id"), 0))
        .order_by("-updated_at", "name")
    )
    paged = Paginator(tags, page_size).get_page(page)
    index_ids = [t.manifest_id for t in paged if t.manifest.media_type in mediatypes.INDEXES]
    payloads = dict(Manifest.objects.filter(pk__in=index_ids).values_list("pk", "payload")) if index_ids else {}
    children = _index_children(repository, payloads)
    rows = []
    for tag in paged:
        manifest = tag.manifest
        row = TagRow(
            name=tag.name, digest=manifest.digest, media_type=manifest.media_type,
            size=manifest.size + tag.blob_bytes, pushed_at=tag.updated_at, created_at=manifest.created_at,
            is_index=manifest.pk in payloads, artifact_type=manifest.artifact_type,
        )
        for entry in children.get(manifest.pk, []):
            row.platforms.append(entry.platform or "unknown")
            row.size += entry.size
        rows.append(row)
    return paged, rows


@dataclass
class ChildEntry:
    digest: str
    media_type: str
    platform: str
    size: int  # the child manifest with its blobs, when the child is in the repository
    present: bool


def index_entries(payload: bytes) -> list[dict]:
    try:
        entries = json.loads(bytes(payload)).get("manifests", [])
    except (ValueError, AttributeError):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("digest"), str)]


def _index_children(repository: Repository, payloads: dict[int, bytes]) -> dict[int, list[ChildEntry]]:
    """The entries of each index, with sizes of the children stored in the repository."""
    entries = {pk: index_entries(payload) for pk, payload in payloads.items()}
    digests = {e["digest"] for listed in entries.values() for e in listed}
    sizes = dict(
        Manifest.objects.filter(repository=repository, digest__in=digests)
        .annotate(total=Coalesce(_blob_bytes("pk"), 0))
        .values_list("digest", "total")
    ) if digests else {}
    return {
        pk: [
            ChildEntry(
                digest=e["digest"], media_type=str(e.get("mediaType", "")),
                platform=platform_string(e.get("platform")),
                size=sizes[e["digest"]] + _int(e.get("size")) if e["digest"] in sizes else 0,
                present=e["digest"] in sizes,
            )
            for e in listed
        ]
        for pk, listed in entries.items()
    }


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def index_children(*, repository: Repository, manifest: Manifest) -> list[ChildEntry]:
    return _index_children(repository, {manifest.pk: manifest.payload})[manifest.pk]
