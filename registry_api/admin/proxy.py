"""Admin for proxy and group repositories. The upstream password is write-only: it is
stored encrypted (proxy/credentials.py) and never shown again; counters are read-only."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from ..models import GroupMember, GroupNamespace, ProxyNamespace, Repository
from ..selectors.proxies import proxy_rows
from .credentials import StoredPasswordColumn, WriteOnlyPasswordForm


class ProxyNamespaceForm(WriteOnlyPasswordForm):
    upstream_url = forms.URLField(
        max_length=500, assume_scheme="https", help_text=ProxyNamespace._meta.get_field("upstream_url").help_text,
    )

    class Meta:
        model = ProxyNamespace
        fields = ("name", "upstream_url", "library_default", "username", "password", "clear_password",
                  "password_env", "manifest_ttl", "expire_after_days")


@admin.register(ProxyNamespace)
class ProxyNamespaceAdmin(StoredPasswordColumn, admin.ModelAdmin):
    form = ProxyNamespaceForm
    list_display = ("name", "upstream_url", "library_default", "manifest_ttl", "cache_hits", "cache_misses",
                    "hit_ratio", "cached", "last_error_short", "last_error_at")
    search_fields = ("name", "upstream_url")
    readonly_fields = ("password_stored", "cache_hits", "cache_misses", "last_error", "last_error_at", "created_at")
    actions = ["reset_counters"]

    def get_fields(self, request, obj=None):
        return [*self.form.Meta.fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        # The name is the cache's repository prefix: renaming would orphan what is cached.
        return ("name", *self.readonly_fields) if obj else self.readonly_fields

    def get_queryset(self, request):
        self._rows = {row.name: row for row in proxy_rows()}
        return super().get_queryset(request)

    @admin.display(description="hit ratio")
    def hit_ratio(self, proxy: ProxyNamespace) -> str:
        total = proxy.cache_hits + proxy.cache_misses
        return f"{proxy.cache_hits / total:.0%}" if total else "—"

    @admin.display(description="cached repositories")
    def cached(self, proxy: ProxyNamespace) -> str:
        row = getattr(self, "_rows", {}).get(proxy.name)
        return str(row.repositories) if row else "—"

    @admin.display(description="last upstream error")
    def last_error_short(self, proxy: ProxyNamespace) -> str:
        return proxy.last_error[:80]

    @admin.action(description="Reset cache hit and miss counters")
    def reset_counters(self, request, queryset) -> None:
        count = queryset.update(cache_hits=0, cache_misses=0, last_error="", last_error_at=None)
        self.message_user(request, f"Counters reset on {count} proxy repositor{'y' if count == 1 else 'ies'}.")


class GroupMemberInline(admin.TabularInline):
    model = GroupMember
    fields = ("position", "namespace")
    extra = 2
    ordering = ("position", "pk")


@admin.register(GroupNamespace)
class GroupNamespaceAdmin(admin.ModelAdmin):
    list_display = ("name", "member_list", "description")
    search_fields = ("name", "members__namespace")
    inlines = [GroupMemberInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members")

    @admin.display(description="members, in order")
    def member_list(self, group: GroupNamespace) -> str:
        return " → ".join(m.namespace for m in group.members.all()) or "—"


def repository_source(repository: Repository) -> str:
    """For the repository list: hosted, or which upstream a cache mirrors."""
    from ..services.routing import proxies

    proxy = proxies().get(repository.namespace)
    if proxy is None:
        return "hosted"
    return format_html("proxy cache of <code>{}</code>", proxy.upstream_url)


@admin.register(GroupMember)
class GroupMemberAdmin(admin.ModelAdmin):
    """Every group's members in one list, to find which groups take a namespace; they are
    edited on their group's page (the inline keeps their order)."""

    list_display = ("group", "position", "namespace")
    list_select_related = ("group",)
    search_fields = ("namespace", "group__name")
    ordering = ("group__name", "position")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
