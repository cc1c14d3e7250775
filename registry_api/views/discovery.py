"""Discovery: GET /v2/<name>/tags/list and GET /v2/_catalog, paginated with n/last and Link."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from ..auth.permissions import visible_repositories
from ..edge.http import next_link
from ..selectors import Page, catalog_page
from ..services.pull import tags_for_pull
from .common import endpoint, page_size, requires


def _respond(request: HttpRequest, body: dict, page: Page, n: int) -> JsonResponse:
    response = JsonResponse(body)
    if page.has_more and page.items:
        response["Link"] = next_link(request.path, n, page.items[-1])
    return response


@requires("pull")
def _tags(request: HttpRequest, name: str) -> JsonResponse:
    """200 `{"name", "tags"}` in bytewise order, Link when more remain; 404 NAME_UNKNOWN; 400."""
    n = page_size(request, settings.REGISTRY_PAGE_MAX)
    page = tags_for_pull(route=request.registry_route, n=n, last=request.GET.get("last"))
    return _respond(request, {"name": name, "tags": page.items}, page, n)


@requires("catalog")
def _catalog(request: HttpRequest) -> JsonResponse:
    """200 `{"repositories"}` in bytewise order, Link when more remain; 400 UNSUPPORTED (`n`)."""
    n = page_size(request, settings.REGISTRY_PAGE_MAX)
    visible = visible_repositories(request.registry_access.identity)
    page = catalog_page(repositories=visible, n=n, last=request.GET.get("last"))
    return _respond(request, {"repositories": page.items}, page, n)


tags_list = endpoint(GET=_tags, HEAD=_tags)
catalog = endpoint(GET=_catalog, HEAD=_catalog)
