"""Repositories as the portal and the admin list them: search, namespace filter, sort,
pages; sizes (blob bytes: total and unique); effective visibility. A repository's tags are
in `tags`.

Each page is one query whatever its length: tag counts, sizes, last-push times and
whether the namespace is public are correlated subqueries evaluated by the database, and
the page is cut by LIMIT/OFFSET.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import BooleanField, Count, Exists, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest

from ..models import Manifest, Namespace, Repository, RepositoryBlob, Tag
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


def everyone_may_pull() -> bool:
    """Anonymous pulls of everything (or no access control): every repository is public."""
    return settings.REGISTRY_ANONYMOUS_PULL or not settings.REGISTRY_AUTH_ENABLED


def with_visibility(repositories: QuerySet) -> QuerySet:
    """Annotate `namespace_public`: the repository is public through its namespace (or the
    registry-wide anonymous pull), whatever its own `public` flag says."""
    if everyone_may_pull():
        return repositories.annotate(namespace_public=Value(True, output_field=BooleanField()))
    public = Namespace.objects.filter(public=True, name=OuterRef("ns"))
    return repositories.annotate(ns=namespace_expression(), namespace_public=Exists(public))


@dataclass
class Visibility:
    public: bool
    via: str  # "repository", "namespace" or "registry" (anonymous pull); "" when private

    @property
    def text(self) -> str:
        return {"repository": "public", "namespace": "public via its namespace",
                "registry": "public (anonymous pull is on)"}.get(self.via, "private")


def repository_visibility(*, repository: Repository) -> Visibility:
    """Whether anyone may pull `repository`, and why: from the `with_visibility` annotation
    when the row has it (list pages), else with one query."""
    if everyone_may_pull():
        return Visibility(True, "registry")
    if repository.public:
        return Visibility(True, "repository")
    namespace_public = getattr(repository, "namespace_public", None)
    if namespace_public is None:
        namespace_public = Namespace.objects.filter(name=repository.namespace, public=True).exists()
    return Visibility(True, "namespace") if namespace_public else Visibility(False, "")


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
    ordered = with_visibility(with_listing_figures(found)).order_by(*SORTS.get(sort, SORTS["name"]))
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
