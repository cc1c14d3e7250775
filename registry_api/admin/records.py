"""Read-only admin lists of the bookkeeping rows: which repository holds which blob, what
each manifest references, the login throttle's counters, backup leases, and the proxy's
fetches in progress and references to blobs not cached yet. Nothing here is edited by
hand: pushes, deletes and garbage collection keep the links and references right, a
throttle window expires by itself (REGISTRY_LOGIN_WINDOW), and leases and fetches end
with their backup or fetch (or go stale and are taken over)."""
from __future__ import annotations

from django.contrib import admin

from ..models import BackupLease, LoginThrottle, ManifestReference, PendingBlobReference, ProxyFetch, RepositoryBlob
from .filters import RepositoryNamespaceFilter, size_column


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RepositoryBlob)
class RepositoryBlobAdmin(ReadOnlyAdmin):
    list_display = ("repository", "blob", "blob_size", "created_at")
    list_filter = (RepositoryNamespaceFilter, "created_at")
    search_fields = ("repository__name", "blob__digest")
    list_select_related = ("repository", "blob")
    list_per_page = 50
    blob_size = size_column("blob__size")


@admin.register(ManifestReference)
class ManifestReferenceAdmin(ReadOnlyAdmin):
    list_display = ("manifest", "blob", "child_digest")
    search_fields = ("manifest__digest", "manifest__repository__name", "blob__digest", "child_digest")
    list_select_related = ("manifest__repository", "blob")
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).defer("manifest__payload", "manifest__annotations")


@admin.register(LoginThrottle)
class LoginThrottleAdmin(ReadOnlyAdmin):
    list_display = ("key", "failures", "window_started_at")
    search_fields = ("key",)
    list_filter = ("window_started_at",)


@admin.register(BackupLease)
class BackupLeaseAdmin(ReadOnlyAdmin):
    """While one is fresh, garbage collection deletes no blob file (services/backup_lease.py)."""

    list_display = ("destination", "started_at", "heartbeat_at")


@admin.register(ProxyFetch)
class ProxyFetchAdmin(ReadOnlyAdmin):
    """Blobs being fetched from an upstream right now: one fetch per digest (proxy/blobs.py)."""

    list_display = ("digest", "size", "started_at", "heartbeat_at")
    search_fields = ("digest",)


@admin.register(PendingBlobReference)
class PendingBlobReferenceAdmin(ReadOnlyAdmin):
    """Blobs a cached manifest names that have not arrived yet; garbage collection keeps them."""

    list_display = ("manifest", "digest", "size")
    search_fields = ("digest", "manifest__repository__name")
    list_select_related = ("manifest__repository",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("manifest__payload", "manifest__annotations")
