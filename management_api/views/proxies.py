"""Proxy and group namespaces (staff), as the admin and the portal's proxy page show them:
upstream, TTLs, cache hits and misses, what each cache holds, a group's members. They
are configured in the Django admin."""
from __future__ import annotations

from rest_framework import generics, serializers

from registry_api.selectors.proxies import group_rows, proxy_rows

from ..access import require_staff


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


class ProxyList(generics.ListAPIView):
    serializer_class = ProxySerializer

    def get_queryset(self):
        require_staff(self.request)
        return sorted(proxy_rows(), key=lambda row: row.name)


class GroupList(generics.ListAPIView):
    serializer_class = GroupSerializer

    def get_queryset(self):
        require_staff(self.request)
        return sorted(group_rows(), key=lambda row: row.name)
