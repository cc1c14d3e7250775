"""Admin pages for the image models: tags, manifests, blobs and upload sessions.

Digests, sizes and payloads are read-only (they are what was pushed). Deletes go through
the same services as /v2/ and the portal, so tags move under the repository lock and the
staged bytes of a cancelled upload go too. Blobs are never deleted here: garbage
collection reclaims them once nothing references them.
"""
from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.html import format_html

from ..lib.units import format_bytes
from ..models import Blob, Manifest, ManifestReference, RepositoryBlob, Tag, Upload
from ..oci.errors import RegistryError
from ..services.dependents import dependents_exist
from ..services.manifests import manifest_delete
from ..services.repositories import repository_delete
from ..services.uploads import upload_cancel
from .filters import HOUSEKEEPING_CHANGE_LIST, CascadesBookkeeping, RepositoryNamespaceFilter, size_column

# A repository page in the admin lists this many of its newest tags (all are under Tags).
INLINE_TAGS = 100


def _short(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}"


def delete_repositories(modeladmin: admin.ModelAdmin, request, repositories) -> None:
    """The repository delete of the portal and the management API, for RepositoryAdmin's
    delete button and its "Delete selected repositories" action."""
    for name in [repository.name for repository in repositories]:
        try:
            repository_delete(name=name, override_immutable=True)
        except RegistryError as exc:
            modeladmin.message_user(request, f"{name}: {exc.message}", messages.ERROR)


class ReadOnlyMixin:
    """Rows that only pushes create; the admin may look and, where allowed, delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TagInline(ReadOnlyMixin, admin.TabularInline):
    model = Tag
    fields = ("name", "manifest_digest", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"tags (newest {INLINE_TAGS})"

    def get_formset(self, request, obj=None, **kwargs):
        self._repository = obj  # the admin builds inline instances per request
        return super().get_formset(request, obj, **kwargs)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("manifest").defer("manifest__payload")
        repository = getattr(self, "_repository", None)
        if repository is None:
            return queryset.none()
        newest = Tag.objects.filter(repository=repository).order_by("-updated_at").values_list("pk", flat=True)
        return queryset.filter(pk__in=list(newest[:INLINE_TAGS])).order_by("-updated_at")

    @admin.display(description="manifest")
    def manifest_digest(self, tag: Tag) -> str:
        return tag.manifest.digest


@admin.register(Tag)
class TagAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "repository", "digest", "updated_at", "last_pulled_at")
    list_filter = (RepositoryNamespaceFilter, "updated_at")
    search_fields = ("name", "repository__name", "manifest__digest")
    list_select_related = ("repository", "manifest")
    readonly_fields = ("repository", "name", "manifest", "updated_at")
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).defer("manifest__payload")

    @admin.display(description="digest", ordering="manifest__digest")
    def digest(self, tag: Tag) -> str:
        return _short(tag.manifest.digest)

    def delete_model(self, request, obj: Tag) -> None:
        self.delete_queryset(request, Tag.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        """`Delete selected tags` (with Django's confirmation page) and the delete button."""
        errors = []
        for name, tag in queryset.values_list("repository__name", "name"):
            try:
                # The admin site is for registry administrators: immutability does not bind them.
                manifest_delete(repository_name=name, reference=tag, override_immutable=True)
            except RegistryError as exc:
                errors.append(f"{name}:{tag}: {exc.message}")
        for error in errors:
            self.message_user(request, error, messages.ERROR)


class ReferenceInline(ReadOnlyMixin, admin.TabularInline):
    model = ManifestReference
    fields = ("blob_digest", "blob_size", "child_digest")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "references (config and layer blobs, or child manifests)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("blob")

    @admin.display(description="blob")
    def blob_digest(self, reference: ManifestReference) -> str:
        return reference.blob.digest if reference.blob else ""

    @admin.display(description="size")
    def blob_size(self, reference: ManifestReference):
        return format_bytes(reference.blob.size) if reference.blob else ""


@admin.register(Manifest)
class ManifestAdmin(CascadesBookkeeping, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("short_digest", "repository", "media_type", "manifest_size", "artifact_type", "image_created",
                    "created_at")
    list_filter = (RepositoryNamespaceFilter, "media_type", "created_at")
    search_fields = ("digest", "repository__name", "tags__name")
    list_select_related = ("repository",)
    fields = ("repository", "digest", "media_type", "size", "artifact_type", "subject_digest", "annotations",
              "image_created", "created_at", "pretty_payload")
    readonly_fields = fields
    inlines = [ReferenceInline]
    list_per_page = 50
    change_list_template = HOUSEKEEPING_CHANGE_LIST
    manifest_size = size_column("size", "manifest size")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("payload")

    @admin.display(description="digest", ordering="digest")
    def short_digest(self, manifest: Manifest) -> str:
        return _short(manifest.digest)

    @admin.display(description="payload")
    def pretty_payload(self, manifest: Manifest) -> str:
        try:
            text = json.dumps(json.loads(bytes(manifest.payload)), indent=2)
        except ValueError:
            text = bytes(manifest.payload).decode(errors="replace")
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", text)

    def delete_model(self, request, obj: Manifest) -> None:
        self.delete_queryset(request, Manifest.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        """As /v2/ DELETE would (services/dependents.py), saying which indexes or referrers
        are left without the manifest."""
        for manifest in queryset.select_related("repository").only("digest", "repository__name"):
            name, digest = manifest.repository.name, manifest.digest
            if dependents_exist(repository=manifest.repository, digest=digest):
                self.message_user(request, f"{name}@{_short(digest)} was listed by an index or had referrers: "
                                  "they now lack it (an index misses that platform).", messages.WARNING)
            try:
                manifest_delete(repository_name=name, reference=digest, override_immutable=True)
            except RegistryError as exc:
                self.message_user(request, f"{name}@{digest}: {exc.message}", messages.ERROR)


class BlobLinkInline(ReadOnlyMixin, admin.TabularInline):
    model = RepositoryBlob
    fields = ("repository", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "repositories holding this blob"


@admin.register(Blob)
class BlobAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("digest", "blob_size", "repository_count", "created_at")
    list_filter = ("created_at",)
    search_fields = ("digest", "repository_links__repository__name")
    readonly_fields = ("digest", "size", "created_at")
    inlines = [BlobLinkInline]
    list_per_page = 50
    change_list_template = HOUSEKEEPING_CHANGE_LIST
    blob_size = size_column("size")

    def get_queryset(self, request):
        # A subquery, not a JOIN … GROUP BY over every link: evaluated for the page's rows only.
        links = RepositoryBlob.objects.filter(blob=OuterRef("pk")).order_by().values("blob")
        count = Subquery(links.annotate(n=Count("id")).values("n")[:1], output_field=IntegerField())
        return super().get_queryset(request).annotate(repository_count=Coalesce(count, 0))

    @admin.display(description="repositories", ordering="repository_count")
    def repository_count(self, blob: Blob) -> int:
        return blob.repository_count

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # garbage collection's job: it knows what is still referenced


@admin.register(Upload)
class UploadAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "repository_name", "digest_algorithm", "started_at")
    list_filter = ("started_at",)
    search_fields = ("id", "repository_name")
    readonly_fields = ("id", "repository_name", "digest_algorithm", "started_at")
    change_list_template = HOUSEKEEPING_CHANGE_LIST

    def delete_model(self, request, obj: Upload) -> None:
        upload_cancel(upload=obj)

    def delete_queryset(self, request, queryset) -> None:
        for upload in queryset:
            upload_cancel(upload=upload)


__all__ = ["TagInline", "delete_repositories"]
