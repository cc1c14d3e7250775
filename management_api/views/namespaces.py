"""Namespaces: staff create them, change their public flag, description and quota (with
If-Match: two scripts raising a quota must not overwrite each other) and delete empty ones
(services/namespaces.py: 409 while repositories remain); their admins read them and their
usage. Every change is audited by the signals in events/signals.py."""
from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.auth.permissions import administered_namespaces
from registry_api.models import Namespace, Repository
from registry_api.oci.reference import NAME_COMPONENT
from registry_api.services.namespaces import namespace_delete
from registry_api.services.quotas import namespace_usage

from ..access import identity_of, namespace_for, require_staff
from ..conventions import ETagOnRead, StrictModelSerializer, etag_of, require_if_match, sort_param
from ..errors import Conflict

NAME = re.compile(NAME_COMPONENT)
SORTS = {"name": ("name",), "-name": ("-name",), "created": ("created_at", "pk"), "-created": ("-created_at", "-pk")}
SORT_PARAMETER = OpenApiParameter("sort", str, enum=sorted(SORTS), description="a leading - sorts descending")
SEARCH_PARAMETER = OpenApiParameter("q", str, description="part of the name")


class NamespaceSerializer(StrictModelSerializer):
    class Meta:
        model = Namespace
        fields = ["name", "public", "description", "quota_bytes", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"name": {"validators": []}}  # uniqueness is a 409, below

    def validate_name(self, value: str) -> str:
        if self.instance is not None and value != self.instance.name:
            raise serializers.ValidationError("a namespace cannot be renamed")
        if not NAME.fullmatch(value):
            raise serializers.ValidationError(
                "lowercase letters and digits, separated by '.', '_', '__' or '-' (one path component)")
        return value


class NamespaceList(generics.ListCreateAPIView):
    """Staff see every namespace; others those they administer. POST: staff only."""

    serializer_class = NamespaceSerializer

    def get_queryset(self):
        found = administered_namespaces(identity_of(self.request))
        query = self.request.query_params.get("q", "").strip()
        if query:
            found = found.filter(name__contains=query.lower())
        return found.order_by(*sort_param(self.request, SORTS, "name"))

    @extend_schema(parameters=[SORT_PARAMETER, SEARCH_PARAMETER])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        require_staff(self.request)
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError:
            raise Conflict(f"namespace {serializer.validated_data['name']} exists") from None


class NamespaceDetail(ETagOnRead, generics.RetrieveUpdateDestroyAPIView):
    """GET answers an ETag; PATCH and PUT (staff) need it back in If-Match. DELETE (staff):
    409 while it holds repositories."""

    serializer_class = NamespaceSerializer
    lookup_field = "name"

    def get_object(self) -> Namespace:
        return namespace_for(self.request, self.kwargs["name"])

    def update(self, request: Request, *args, **kwargs) -> Response:
        found = self.get_object()  # 404 before 403: others may not learn what exists
        require_staff(request)
        with transaction.atomic():
            namespace = Namespace.objects.select_for_update().get(pk=found.pk)
            require_if_match(request, etag_of(NamespaceSerializer(namespace).data))
            serializer = self.get_serializer(namespace, data=request.data, partial=kwargs.get("partial", False))
            serializer.is_valid(raise_exception=True)
            serializer.save()
        response = Response(serializer.data)
        response["ETag"] = etag_of(serializer.data)
        return response

    def perform_destroy(self, instance: Namespace) -> None:
        require_staff(self.request)
        namespace_delete(namespace=instance)


@extend_schema(responses={200: inline_serializer("NamespaceUsage", {
    "namespace": serializers.CharField(), "used_bytes": serializers.IntegerField(),
    "quota_bytes": serializers.IntegerField(allow_null=True), "repositories": serializers.IntegerField()})})
class NamespaceUsage(generics.GenericAPIView):
    """Bytes the namespace holds (each blob once, as its quota counts them)."""

    def get(self, request: Request, name: str) -> Response:
        namespace = namespace_for(request, name)
        repositories = Repository.objects.filter(Q(name=name) | Q(name__startswith=f"{name}/")).count()
        return Response({"namespace": name, "used_bytes": namespace_usage(namespace=name),
                         "quota_bytes": namespace.quota_bytes, "repositories": repositories})
