"""Garbage collection (staff, as in the admin): a preview of what a run would delete and
why, with a signed token; a run of exactly that preview (only what it listed goes, and
only if still unused); and the record of past runs."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api import events
from registry_api.models import GcRun
from registry_api.services.gc import GcPreviewExpired, gc_plan, gc_plan_token, gc_run

from ..access import require_staff
from ..conventions import StrictSerializer
from ..errors import Conflict

PREVIEW_ITEMS = 200


class GarbageSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="manifest, link or blob")
    repository = serializers.CharField()
    digest = serializers.CharField()
    size = serializers.IntegerField()
    reason = serializers.CharField()


class PreviewSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="give it to POST gc/runs/ to delete exactly this")
    delete_untagged = serializers.BooleanField()
    cutoff = serializers.DateTimeField(help_text="nothing younger than this is touched (the grace period)")
    manifests = serializers.IntegerField()
    links = serializers.IntegerField()
    blobs = serializers.IntegerField()
    bytes = serializers.IntegerField()
    items = GarbageSerializer(many=True, help_text=f"the first {PREVIEW_ITEMS}")


class RunRequestSerializer(StrictSerializer):
    preview = serializers.CharField(help_text="the token of the preview to carry out")
    delete_untagged = serializers.BooleanField(default=False)


class GcRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = GcRun
        fields = ["id", "finished_at", "manifests_deleted", "links_removed", "blobs_deleted", "bytes_freed",
                  "duration_seconds"]


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("1", "true", "yes")


class GcPreview(generics.GenericAPIView):
    serializer_class = PreviewSerializer

    @extend_schema(parameters=[OpenApiParameter("delete_untagged", bool)])
    def get(self, request: Request) -> Response:
        require_staff(request)
        plan = gc_plan(delete_untagged=_flag(request, "delete_untagged"))
        return Response(PreviewSerializer({
            "token": gc_plan_token(plan), "delete_untagged": plan.delete_untagged, "cutoff": plan.cutoff,
            "manifests": len(plan.manifests), "links": len(plan.links), "blobs": len(plan.blobs),
            "bytes": plan.bytes, "items": plan.items[:PREVIEW_ITEMS],
        }).data)


class GcRuns(generics.ListAPIView):
    serializer_class = GcRunSerializer

    def get_queryset(self):
        require_staff(self.request)
        return GcRun.objects.order_by("-finished_at", "-id")

    @extend_schema(request=RunRequestSerializer, responses={201: inline_serializer("GcReport", {
        "manifests_deleted": serializers.IntegerField(), "links_removed": serializers.IntegerField(),
        "blobs_deleted": serializers.IntegerField(), "bytes_freed": serializers.IntegerField(),
        "kept_because_in_use": serializers.IntegerField(), "blobs_deferred": serializers.IntegerField()})})
    def post(self, request: Request) -> Response:
        """Carry out a preview; 409 when it is too old or was made with other options."""
        require_staff(request)
        incoming = RunRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            report = gc_run(delete_untagged=incoming.validated_data["delete_untagged"],
                            previewed=incoming.validated_data["preview"])
        except GcPreviewExpired as exc:
            raise Conflict(str(exc)) from None
        body = {"manifests_deleted": report.manifests_deleted, "links_removed": report.links_removed,
                "blobs_deleted": report.blobs_deleted, "bytes_freed": report.bytes_freed,
                "kept_because_in_use": report.kept_on_recheck + report.plan.no_longer_garbage,
                "blobs_deferred": report.blobs_deferred}
        # GC writes no event of its own (the timer's runs are in GcRun); a run asked for here is
        # someone's decision, so the trail names who made it.
        events.record(action="delete", target="garbage collection", detail={"kind": "gc", **body})
        return Response(body, status=status.HTTP_201_CREATED)
