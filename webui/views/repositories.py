"""The repository list, one repository with its tags, and the comparison of two tags (whose
form suggests tag names from the management API's tag list)."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registry_api.oci.errors import RegistryError
from registry_api.selectors.manifests import tag_compare
from registry_api.selectors.proxies import proxy_of
from registry_api.selectors.repositories import (
    SORTS, namespaces_of, repository_list_page, repository_sizes, repository_visibility,
)
from registry_api.selectors.tags import compare_defaults, tag_count, tag_page, untagged_page
from registry_api.services.routing import proxies

from ..access import repository_view, visible

SORT_CHOICES = [
    ("name", "Name (A–Z)"), ("-name", "Name (Z–A)"), ("-pushed", "Last push (newest)"), ("pushed", "Last push (oldest)"),
    ("-size", "Size (largest)"), ("size", "Size (smallest)"), ("-tags", "Tags (most)"), ("tags", "Tags (fewest)"),
]


def _query_prefix(request: HttpRequest, without: str = "page") -> str:
    """The current query string minus `without`, ending in "&", for page links."""
    params = request.GET.copy()
    params.pop(without, None)
    return params.urlencode() + "&" if params else ""


def _param(request: HttpRequest, name: str) -> str:
    return request.GET.get(name, "")[:255]


def repository_list(request: HttpRequest) -> HttpResponse:
    """Paginated, searchable (`q`), filtered by namespace, sorted (`sort`, see SORTS)."""
    repositories = visible(request)
    q, namespace = _param(request, "q"), _param(request, "namespace")
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "name"
    page = repository_list_page(
        repositories=repositories, query=q, namespace=namespace, sort=sort, page=request.GET.get("page", 1),
    )
    return render(request, "webui/repositories.html", {
        "page": page, "q": q, "namespace": namespace, "sort": sort, "sort_choices": SORT_CHOICES,
        "namespaces": namespaces_of(repositories=repositories), "query_prefix": _query_prefix(request),
        "proxies": {name: p.upstream_url for name, p in proxies().items()},
    })


@repository_view("pull")
def repository_detail(request: HttpRequest, repository) -> HttpResponse:
    """Tags (newest push first, searchable with `q`, paginated) with digests, sizes, platforms
    and pull commands; untagged manifests (`untagged` pages them); the compare form."""
    q = _param(request, "q")
    page, rows = tag_page(repository=repository, query=q, page=request.GET.get("page", 1))
    untagged, untagged_rows = untagged_page(repository=repository, page=request.GET.get("untagged", 1))
    first, second = compare_defaults(repository=repository)
    return render(request, "webui/repository.html", {
        "repository": repository, "visibility": repository_visibility(repository=repository),
        "page": page, "rows": rows, "q": q, "tag_total": tag_count(repository=repository) if q else page.paginator.count,
        "untagged": untagged, "untagged_rows": untagged_rows,
        "sizes": repository_sizes(repository=repository), "host": request.get_host(),
        "can_delete": request.can_delete, "can_delete_repository": request.can_delete_repository,
        "can_manage": request.can_manage, "proxy": proxy_of(repository_name=repository.name),
        "compare_a": first, "compare_b": second,
        "query_prefix": _query_prefix(request), "untagged_prefix": _query_prefix(request, "untagged"),
    })


@repository_view("pull")
def compare(request: HttpRequest, repository) -> HttpResponse:
    """Layers added, removed and shared between tags `a` and `b`, and config changes; for an
    index, its image for platform `ap` (or `bp`), else its first one stored here."""
    first, second = _param(request, "a"), _param(request, "b")
    comparison = None
    if first and second:
        try:
            comparison = tag_compare(repository=repository, first=first, second=second,
                                     first_platform=_param(request, "ap"), second_platform=_param(request, "bp"))
        except RegistryError as exc:
            messages.error(request, f"Cannot compare {first} and {second}: {exc.message}.")
    elif not (first or second):
        first, second = compare_defaults(repository=repository)
    return render(request, "webui/compare.html", {
        "repository": repository, "a": first, "b": second, "comparison": comparison,
    })
