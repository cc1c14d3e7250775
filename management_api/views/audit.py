"""The audit trail: staff read every event, namespace admins those of their namespaces'
repositories. Filters `actor`, `action`, `repository`, `since` and `until` (ISO 8601);
newest first. The same selection exports whole as JSON lines or CSV, streamed."""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request

from registry_api.auth.permissions import administered_namespaces, is_staff
from registry_api.models import AuditEvent

from ..access import identity_of

FIELDS = ["id", "created_at", "action", "actor", "client_address", "request_id", "repository", "target", "detail"]
FILTERS = [
    OpenApiParameter("actor", str, description="who acted (exact)"),
    OpenApiParameter("action", str, enum=AuditEvent.Action.values),
    OpenApiParameter("repository", str, description="exact name"),
    OpenApiParameter("since", str, description="ISO 8601 time, inclusive"),
    OpenApiParameter("until", str, description="ISO 8601 time, exclusive"),
]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = FIELDS


def _time(request: Request, name: str):
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValidationError({name: ["an ISO 8601 time with its offset, e.g. 2026-01-31T12:00:00Z"]})
    return value


def audit_events(request: Request) -> QuerySet:
    """The events the caller may read that match the request's filters, newest first."""
    identity = identity_of(request)
    events = AuditEvent.objects.all()
    if not is_staff(identity):
        namespaces = list(administered_namespaces(identity).values_list("name", flat=True))
        if not namespaces:
            raise PermissionDenied("only staff and namespace admins may read the audit trail")
        mine = Q(pk__in=[])
        for name in namespaces:
            mine |= Q(repository=name) | Q(repository__startswith=f"{name}/")
        events = events.filter(mine)
    params = request.query_params
    action = params.get("action")
    if action is not None and action not in AuditEvent.Action.values:
        raise ValidationError({"action": [f"one of: {', '.join(AuditEvent.Action.values)}"]})
    for field in ("actor", "action", "repository"):
        if params.get(field) is not None:
            events = events.filter(**{field: params[field]})
    since, until = _time(request, "since"), _time(request, "until")
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    return events.order_by("-created_at", "-id")


class AuditEventList(generics.ListAPIView):
    serializer_class = AuditEventSerializer

    def get_queryset(self) -> QuerySet:
        return audit_events(self.request)

    @extend_schema(parameters=FILTERS)
    def get(self, request: Request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class _Line:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _rows(events: QuerySet) -> Iterator[dict]:
    for event in events.iterator(chunk_size=500):
        yield AuditEventSerializer(event).data


def _jsonl(events: QuerySet) -> Iterator[str]:
    for row in _rows(events):
        yield json.dumps(row) + "\n"


def _csv(events: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(FIELDS)
    for row in _rows(events):
        yield writer.writerow([json.dumps(row[f]) if f == "detail" else row[f] for f in FIELDS])


EXPORTS = {"jsonl": (_jsonl, "application/jsonl"), "csv": (_csv, "text/csv; charset=utf-8")}


class AuditEventExport(generics.GenericAPIView):
    serializer_class = AuditEventSerializer

    @extend_schema(parameters=FILTERS, responses={(200, "application/jsonl"): str, (200, "text/csv"): str})
    def get(self, request: Request, kind: str) -> StreamingHttpResponse:
        """Every matching event, streamed: `export.jsonl` or `export.csv`."""
        write, content_type = EXPORTS[kind]
        response = StreamingHttpResponse(write(audit_events(request)), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="audit-events.{kind}"'
        return response
