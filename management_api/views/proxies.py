"""Proxy and group namespaces (staff), as the admin and the portal's proxy page show and
configure them: upstream, TTLs, cache hits and misses and what each cache holds; a
proxy's upstream password is write-only (stored encrypted, never returned); a group's
members are an ordered list of namespaces. Changes are audited by events/signals.py."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.models import GroupNamespace, ProxyNamespace
from registry_api.selectors.proxies import group_rows, proxy_rows
from registry_api.services.proxies import group_members_set, stored_password_apply

from ..access import require_staff, staff_get
from ..conventions import StrictModelSerializer, StrictSerializer


class ProxySerializer(serializers.Serializer):
    name = serializers.CharField()
    upstream_url = serializers.CharField()
    library_default = serializers.BooleanField()
    manifest_ttl = serializers.IntegerField()
    expire_after_days = serializers.IntegerField(allow_null=True)
    cache_hits = serializers.IntegerField()
    cache_misses = serializers.IntegerField()
    hit_ratio = serializers.FloatField(allow_null=True)
    last_error = serializers.CharField()
    last_error_at = serializers.DateTimeField(allow_null=True)
    repositories = serializers.IntegerField()
    cached_bytes = serializers.IntegerField()


class MemberSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    kind = serializers.CharField(help_text="proxy or hosted")


class GroupSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    members = serializers.SerializerMethodField()

    def get_members(self, row) -> list[dict]:
        return [{"namespace": namespace, "kind": kind} for namespace, kind in row.members]


def _validated(instance) -> None:
    try:
        instance.full_clean()
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})


class ProxyWriteSerializer(StrictModelSerializer):
    password = serializers.CharField(write_only=True, required=False, trim_whitespace=False)
    clear_password = serializers.BooleanField(write_only=True, required=False, default=False)

    class Meta:
        model = ProxyNamespace
        fields = ["name", "upstream_url", "library_default", "username", "password", "clear_password",
                  "password_env", "manifest_ttl", "expire_after_days"]
        extra_kwargs = {"name": {"validators": []}}

    def validate(self, data: dict) -> dict:
        if self.instance is not None and "name" in data and data["name"] != self.instance.name:
            raise ValidationError({"name": ["a proxy cannot be renamed: its cache is stored under the name"]})
        if data.get("password") and data.get("password_env"):
            raise ValidationError("give a password or an environment variable, not both")
        return data

    def save(self, **kwargs) -> ProxyNamespace:
        data = dict(self.validated_data)
        password, clear = data.pop("password", ""), data.pop("clear_password", False)
        proxy = self.instance or ProxyNamespace()
        for field, value in data.items():
            setattr(proxy, field, value)
        stored_password_apply(holder=proxy, password=password, clear=clear, password_env=data.get("password_env", ""))
        _validated(proxy)
        proxy.save()
        self.instance = proxy
        return proxy


def _proxy_row(name: str) -> dict:
    return ProxySerializer(proxy_rows(names={name})[0]).data


def _proxy(request: Request, name: str) -> ProxyNamespace:
    return staff_get(request, ProxyNamespace.objects.all(), "no such proxy", name=name)


class ProxyList(generics.ListAPIView):
    serializer_class = ProxySerializer

    def get_queryset(self):
        require_staff(self.request)
        return sorted(proxy_rows(), key=lambda row: row.name)

    @extend_schema(request=ProxyWriteSerializer, responses={201: ProxySerializer})
    def post(self, request: Request) -> Response:
        require_staff(request)
        incoming = ProxyWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        return Response(_proxy_row(incoming.save().name), status=status.HTTP_201_CREATED)


class ProxyDetail(generics.GenericAPIView):
    serializer_class = ProxySerializer

    def get(self, request: Request, name: str) -> Response:
        return Response(_proxy_row(_proxy(request, name).name))

    @extend_schema(request=ProxyWriteSerializer, responses={200: ProxySerializer})
    def patch(self, request: Request, name: str) -> Response:
        incoming = ProxyWriteSerializer(_proxy(request, name), data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        return Response(_proxy_row(incoming.save().name))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, name: str) -> Response:
        """The proxy goes; what its cache holds stays as repositories until deleted."""
        _proxy(request, name).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    members = serializers.ListField(child=serializers.CharField(max_length=100), required=False,
                                    help_text="namespaces, asked in this order")


def _group_row(name: str) -> dict:
    return GroupSerializer(group_rows(names={name})[0]).data


def _group(request: Request, name: str) -> GroupNamespace:
    return staff_get(request, GroupNamespace.objects.all(), "no such group", name=name)


def _save_group(group: GroupNamespace, data: dict) -> GroupNamespace:
    if "name" in data and group.pk is not None and data["name"] != group.name:
        raise ValidationError({"name": ["a group cannot be renamed; create another"]})
    group.name = data.get("name", group.name)
    group.description = data.get("description", group.description)
    _validated(group)
    with transaction.atomic():
        group.save()
        if "members" in data:
            try:
                group_members_set(group=group, namespaces=data["members"])
            except DjangoValidationError as exc:
                raise ValidationError({"members": exc.messages}) from None
    return group


class GroupList(generics.ListAPIView):
    serializer_class = GroupSerializer

    def get_queryset(self):
        require_staff(self.request)
        return sorted(group_rows(), key=lambda row: row.name)

    @extend_schema(request=GroupWriteSerializer, responses={201: GroupSerializer})
    def post(self, request: Request) -> Response:
        require_staff(request)
        incoming = GroupWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        if "name" not in incoming.validated_data:
            raise ValidationError({"name": ["This field is required."]})
        group = _save_group(GroupNamespace(), incoming.validated_data)
        return Response(_group_row(group.name), status=status.HTTP_201_CREATED)


class GroupDetail(generics.GenericAPIView):
    serializer_class = GroupSerializer

    def get(self, request: Request, name: str) -> Response:
        return Response(_group_row(_group(request, name).name))

    @extend_schema(request=GroupWriteSerializer, responses={200: GroupSerializer})
    def patch(self, request: Request, name: str) -> Response:
        incoming = GroupWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        return Response(_group_row(_save_group(_group(request, name), incoming.validated_data).name))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, name: str) -> Response:
        _group(request, name).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
