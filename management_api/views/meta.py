"""Health and version: no credentials needed, as load balancers and scripts probe them
before they sign in."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.services.health import readiness_checks

from ..permissions import Anyone

API_VERSION = "1.0"


@extend_schema(responses={200: inline_serializer("Health", {
    "status": serializers.CharField(), "database": serializers.CharField(), "storage": serializers.CharField()})})
@api_view(["GET"])
@authentication_classes([])
@permission_classes([Anyone])
def health(request: Request) -> Response:
    """200 when the database and blob storage work, else 503 saying which does not."""
    checks = readiness_checks()
    ready = all(value == "ok" for value in checks.values())
    return Response({"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503)


@extend_schema(responses={200: inline_serializer("Version", {
    "api": serializers.CharField(), "distribution_api": serializers.CharField()})})
@api_view(["GET"])
@authentication_classes([])
@permission_classes([Anyone])
def version(request: Request) -> Response:
    """The version of this API's schema, and of the registry protocol under /v2/."""
    return Response({"api": API_VERSION, "distribution_api": "registry/2.0"})
