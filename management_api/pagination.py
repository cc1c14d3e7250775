"""Pages of every list: `?page=` (from 1) and `?page_size=` (default 50, at most
MAX_PAGE_SIZE; more is a 400, not silently less, so a script learns the limit at once).
The body is `{"count", "results"}`; the next and previous pages are in the `Link` header
(RFC 8288), as on /v2/. Each list view orders by a unique key last, so pages are stable."""
from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def _number(request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError({name: [f"{name} must be a whole number from 1"]})
    return int(raw)


class PageNumberLinkPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None) -> list:
        self.request = request
        self.page = _number(request, "page", 1)
        self.page_size = _number(request, "page_size", DEFAULT_PAGE_SIZE)
        if self.page_size > MAX_PAGE_SIZE:
            raise ValidationError({"page_size": [f"page_size may be at most {MAX_PAGE_SIZE}"]})
        self.count = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        start = (self.page - 1) * self.page_size
        return list(queryset[start:start + self.page_size])

    def _links(self) -> str:
        url = self.request.build_absolute_uri()
        links = []
        if self.page * self.page_size < self.count:
            links.append(f'<{replace_query_param(url, "page", self.page + 1)}>; rel="next"')
        if self.page > 1:
            previous = self.page - 1
            target = replace_query_param(url, "page", previous) if previous > 1 else remove_query_param(url, "page")
            links.append(f'<{target}>; rel="prev"')
        return ", ".join(links)

    def get_paginated_response(self, data) -> Response:
        response = Response({"count": self.count, "results": data})
        links = self._links()
        if links:
            response["Link"] = links
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {"type": "object", "required": ["count", "results"],
                "properties": {"count": {"type": "integer"}, "results": schema}}

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
            {"name": "page_size", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE}},
        ]
