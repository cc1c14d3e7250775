"""Admin for access control: namespaces, grants and access tokens; the image models' pages
are in `images`. A new token's secret is shown once, after saving."""
from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from ..auth.credentials import access_token_create
from ..models import AccessToken, Grant, Namespace, Repository
from ..selectors.repositories import repository_visibility, with_listing_figures, with_visibility
from ..services.namespaces import NamespaceNotEmpty, namespace_delete, namespace_repositories
from .filters import CascadesBookkeeping, NamespaceFilter, size_column
from .images import TagInline, delete_repositories  # also registers the image models

# Repositories named on a namespace's delete page as what keeps it.
BLOCKERS_SHOWN = 20


class GrantInline(admin.TabularInline):
    model = Grant
    extra = 1
    fields = ("user", "group", "level")
    autocomplete_fields = ("user", "group")


@admin.register(Namespace)
class NamespaceAdmin(admin.ModelAdmin):
    list_display = ("name", "public", "description", "quota", "created_at")
    quota = size_column("quota_bytes", "quota")
    list_filter = ("public",)
    search_fields = ("name",)
    inlines = [GrantInline]

    # Deleting goes through the service the management API uses: never while the namespace
    # holds repositories (those are deleted on purpose, one at a time). Django's confirmation
    # page lists them as what blocks the delete, so nobody confirms in vain.
    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for namespace in objs:
            held = namespace_repositories(namespace=namespace).values_list("name", flat=True)
            names = list(held[:BLOCKERS_SHOWN + 1])
            protected = [*protected, *(f"Repository {name} (delete it first)" for name in names[:BLOCKERS_SHOWN])]
            if len(names) > BLOCKERS_SHOWN:
                protected.append(f"… and more repositories in {namespace.name}")
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj) -> None:
        self.delete_queryset(request, [obj])

    def delete_queryset(self, request, queryset) -> None:
        for namespace in queryset:
            try:
                namespace_delete(namespace=namespace)
            except NamespaceNotEmpty as exc:  # a push since the confirmation page
                self.message_user(request, exc.message, messages.ERROR)
                request._namespace_kept = True

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "_namespace_kept", False):  # not Django's "deleted successfully"
            return HttpResponseRedirect(reverse("admin:registry_api_namespace_change", args=[obj_id],
                                                current_app=self.admin_site.name))
        return super().response_delete(request, obj_display, obj_id)


@admin.register(Repository)
class RepositoryAdmin(CascadesBookkeeping, admin.ModelAdmin):
    list_display = ("name", "source", "visibility", "tag_count", "repository_size", "last_push", "immutable_tags")
    list_filter = (NamespaceFilter, "public", "immutable_tags")
    search_fields = ("name",)
    readonly_fields = ("name", "visibility", "created_at")
    inlines = [GrantInline, TagInline]
    list_per_page = 50
    repository_size = size_column("size")

    def get_queryset(self, request):
        """Tag count, size, last push and the namespace's public flag as subqueries of the
        one page query (no query per row); sortable like the portal's list."""
        return with_visibility(with_listing_figures(super().get_queryset(request)))

    @admin.display(description="tags", ordering="tag_count")
    def tag_count(self, repository: Repository) -> int:
        return repository.tag_count

    @admin.display(description="last push", ordering="last_push")
    def last_push(self, repository: Repository):
        return repository.last_push

    @admin.display(description="visibility")
    def visibility(self, repository: Repository) -> str:
        """Effective: public through the repository's flag, its namespace or anonymous pull."""
        return repository_visibility(repository=repository).text

    def has_add_permission(self, request) -> bool:
        return False  # repositories come into being by a push

    @admin.display(description="source")
    def source(self, repository: Repository) -> str:
        return repository_source(repository)

    # Deleting (the button and "Delete selected repositories") goes through the service the
    # portal and the management API use: locked, upload sessions cancelled.
    def delete_model(self, request, obj) -> None:
        delete_repositories(self, request, [obj])

    def delete_queryset(self, request, queryset) -> None:
        delete_repositories(self, request, queryset)


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ("__str__", "level", "namespace", "repository", "user", "group")
    list_filter = ("level",)
    search_fields = ("namespace__name", "repository__name", "user__username", "group__name")
    autocomplete_fields = ("user", "group", "namespace", "repository")


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "read_only", "namespace", "expires_at", "revoked", "last_used_at",
                    "created_at")
    list_filter = ("read_only", "revoked")
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("prefix", "last_used_at", "created_at")
    autocomplete_fields = ("user", "namespace")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, secret = access_token_create(
            user=obj.user, name=obj.name, read_only=obj.read_only, expires_at=obj.expires_at, namespace=obj.namespace,
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            f"Token created. Copy it now, it will not be shown again: {secret}  "
            f"(docker login -u {obj.user.get_username()} --password-stdin)",
        )

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:
        count = queryset.update(revoked=True)
        self.message_user(request, f"{count} token(s) revoked.")


from . import events  # noqa: E402,F401  (audit trail and webhooks)
from . import records  # noqa: E402,F401  (links, references, login throttles: read-only)
from . import housekeeping  # noqa: E402,F401  (garbage collection, uploads, quotas, retention)
from .proxy import repository_source  # noqa: E402  (proxy and group repositories)
from . import robots  # noqa: E402,F401  (robot accounts; robots marked in the user list)
