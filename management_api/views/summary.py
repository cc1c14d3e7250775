"""The dashboard's figures over what the caller may pull, as the portal's dashboard polls
them: open to anonymous callers (who see what is public), cached a few seconds per
visibility class (`registry_api.selectors.dashboard`), with a `version` that moves only
when a figure does, so a poller redraws only then."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.auth.permissions import visible_repositories
from registry_api.selectors.dashboard import dashboard_figures

from ..access import identity_of
from ..permissions import PublicRead


class NamespaceStorageSerializer(serializers.Serializer):
    namespace = serializers.CharField(help_text="a namespace, or \"other\" for the rest")
    bytes = serializers.IntegerField()


class DayPushesSerializer(serializers.Serializer):
    day = serializers.DateField()
    count = serializers.IntegerField(help_text="manifests first pushed that day")


class RecentPushSerializer(serializers.Serializer):
    repository = serializers.CharField()
    tag = serializers.CharField()
    digest = serializers.CharField()
    pushed_at = serializers.DateTimeField()


class SummarySerializer(serializers.Serializer):
    repositories = serializers.IntegerField(source="summary.repositories")
    tags = serializers.IntegerField(source="summary.tags")
    manifests = serializers.IntegerField(source="summary.manifests")
    blobs = serializers.IntegerField(source="summary.blobs")
    blob_bytes = serializers.IntegerField(source="summary.blob_bytes", help_text="each blob counted once")
    storage_by_namespace = NamespaceStorageSerializer(source="usage", many=True)
    pushes_per_day = DayPushesSerializer(source="days", many=True, help_text="the last 14 days, oldest first")
    recent = RecentPushSerializer(many=True, help_text="the tags pushed or moved last, newest first")
    version = serializers.CharField(help_text="changes when any figure does")


@extend_schema(responses={200: SummarySerializer})
@api_view(["GET"])
@permission_classes([PublicRead])
def summary(request: Request) -> Response:
    """Counts, storage by namespace, pushes per day and recent pushes, over the repositories
    the caller may pull; at most REGISTRY_DASHBOARD_CACHE_SECONDS old."""
    figures = dashboard_figures(repositories=visible_repositories(identity_of(request)))
    return Response(SummarySerializer(figures).data)
