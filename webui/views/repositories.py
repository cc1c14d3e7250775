"""The repository list, one repository with its tags, and the comparison of two tags."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registry_api.errors import RegistryError
from registry_api.routing import proxies
from registry_api.selectors.proxies import proxy_of
from registry_api.selectors.manifests import tag_compare
from registry_api.selectors.repositories import SORTS, namespaces_of, repository_list_page, repository_sizes, tag_page

from ..access import repository_view, visible

SORT_CHOICES = [
    ("name", "Name (A–Z)"), ("-name", "Name (Z–A)"), ("-pushed", "Last push (newest)"), ("pushed", "Last push (oldest)"),
    ("-size", "Size (largest)"), ("size", "Size (smallest)"), ("-tags", "Tags (most)"), ("tags", "Tags (fewest)"),
]


def _query_prefix(request: HttpRequest) -> str:
    """The current filters as a query string ending in "&", for page links."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode() + "&" if params else ""


def repository_list(request: HttpRequest) -> HttpResponse:
    """Paginated, searchable (`q`), filtered by namespace, sorted (`sort`, see SORTS)."""
    repositories = visible(request)
    q, namespace = request.GET.get("q", "")[:255], request.GET.get("namespace", "")[:255]
    sort = request.GET.get("sort", "name") if request.GET.get("sort") in SORTS else "name"
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
    """Tags (newest push first, paginated) with digests, sizes, platforms and pull commands."""
    page, rows = tag_page(repository=repository, page=request.GET.get("page", 1))
    return render(request, "webui/repository.html", {
        "repository": repository, "page": page, "rows": rows,
        "sizes": repository_sizes(repository=repository), "host": request.get_host(),
        "can_delete": request.can_delete, "can_delete_repository": request.can_delete_repository,
        "can_manage": request.can_manage, "query_prefix": "", "proxy": proxy_of(repository_name=repository.name),
    })


@repository_view("pull")
def compare(request: HttpRequest, repository) -> HttpResponse:
    """Layers added, removed and shared between tags `a` and `b`, and config changes."""
    first, second = request.GET.get("a", "")[:200], request.GET.get("b", "")[:200]
    comparison = None
    if first and second:
        try:
            comparison = tag_compare(repository=repository, first=first, second=second)
        except RegistryError as exc:
            messages.error(request, f"Cannot compare {first} and {second}: {exc.message}.")
    return render(request, "webui/compare.html", {
        "repository": repository, "a": first, "b": second, "comparison": comparison,
    })
