"""Grants: on a repository, set and removed by its admins (as on the portal's settings
page); on a namespace, read by its admins and set by staff (as in the admin). Both through
services/grants.py; the signals in events/signals.py audit each change."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.models import Grant
from registry_api.services.grants import grant_remove, grant_set

from ..access import namespace_for, repository_for, require_staff
from ..conventions import StrictSerializer


class GrantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.CharField(source="user.username", allow_null=True, default=None)
    group = serializers.CharField(source="group.name", allow_null=True, default=None)
    level = serializers.CharField()


class GrantSetSerializer(StrictSerializer):
    user = serializers.CharField(required=False)
    group = serializers.CharField(required=False)
    level = serializers.ChoiceField(choices=Grant.Level.values)

    def validate(self, data: dict) -> dict:
        if ("user" in data) == ("group" in data):
            raise ValidationError("give a user or a group")
        if "user" in data:
            data["user"] = get_user_model()._default_manager.filter(username=data["user"]).first()
            if data["user"] is None:
                raise ValidationError({"user": ["no such user"]})
        else:
            data["group"] = Group.objects.filter(name=data["group"]).first()
            if data["group"] is None:
                raise ValidationError({"group": ["no such group"]})
        return data


def _listed(grants: QuerySet) -> QuerySet:
    return grants.select_related("user", "group").order_by("pk")


def _set(request: Request, **place) -> Response:
    incoming = GrantSetSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    grant = grant_set(**place, **incoming.validated_data)
    return Response(GrantSerializer(grant).data, status=status.HTTP_200_OK)


class RepositoryGrants(generics.ListAPIView):
    """The grants given on the repository itself (namespace grants are the namespace's)."""

    serializer_class = GrantSerializer

    def get_queryset(self):
        return _listed(Grant.objects.filter(repository=repository_for(self.request, self.kwargs["name"], "manage")))

    @extend_schema(request=GrantSetSerializer, responses={200: GrantSerializer})
    def post(self, request: Request, name: str) -> Response:
        """Give a user or group exactly this level here (replacing their grant here)."""
        return _set(request, repository=repository_for(request, name, "manage"))


class RepositoryGrant(generics.GenericAPIView):
    serializer_class = GrantSerializer

    @extend_schema(responses={204: None})
    def delete(self, request: Request, name: str, grant_id: int) -> Response:
        if not grant_remove(repository=repository_for(request, name, "manage"), grant_id=grant_id):
            raise NotFound("the repository has no such grant")
        return Response(status=status.HTTP_204_NO_CONTENT)


class NamespaceGrants(generics.ListAPIView):
    serializer_class = GrantSerializer

    def get_queryset(self):
        return _listed(Grant.objects.filter(namespace=namespace_for(self.request, self.kwargs["name"])))

    @extend_schema(request=GrantSetSerializer, responses={200: GrantSerializer})
    def post(self, request: Request, name: str) -> Response:
        namespace = namespace_for(request, name)
        require_staff(request)
        return _set(request, namespace=namespace)


class NamespaceGrant(generics.GenericAPIView):
    serializer_class = GrantSerializer

    @extend_schema(responses={204: None})
    def delete(self, request: Request, name: str, grant_id: int) -> Response:
        namespace = namespace_for(request, name)
        require_staff(request)
        if not grant_remove(namespace=namespace, grant_id=grant_id):
            raise NotFound("the namespace has no such grant")
        return Response(status=status.HTTP_204_NO_CONTENT)
