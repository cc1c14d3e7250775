"""Pieces the admin pages share: a namespace filter (namespaces are the first component of
repository names, not all of them have a Namespace row), sizes in binary units, the
object-tools link from the image lists to the housekeeping pages, and deletes that take
the read-only bookkeeping rows with them."""
from __future__ import annotations

from django.contrib import admin
from django.db.models import Q

from ..lib.units import format_bytes
from ..models import ManifestReference, Repository, RepositoryBlob
from ..selectors.repositories import namespaces_of

# change_list template adding links to the garbage-collection and stale-upload pages.
HOUSEKEEPING_CHANGE_LIST = "admin/registry_api/change_list_housekeeping.html"


class NamespaceFilter(admin.SimpleListFilter):
    """Rows of the repositories in one namespace (`name_field` names the repository name)."""

    title = "namespace"
    parameter_name = "namespace"
    name_field = "name"

    def lookups(self, request, model_admin):
        return [(ns, ns) for ns in namespaces_of(repositories=Repository.objects.all())]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(Q(**{self.name_field: value}) | Q(**{f"{self.name_field}__startswith": f"{value}/"}))


class RepositoryNamespaceFilter(NamespaceFilter):
    name_field = "repository__name"


def size_column(field: str, description: str = "size"):
    """A list_display column printing `field` (may follow relations: `blob__size`) in
    KiB/MiB/GiB, sortable by the raw bytes."""

    @admin.display(description=description, ordering=field)
    def column(self, obj) -> str:
        value = obj
        for part in field.split("__"):
            value = getattr(value, part)
        # A no-break space: "393 bytes" must not wrap in a narrow column.
        return "" if value is None else format_bytes(value).replace(" ", "\u00a0")

    return column


class CascadesBookkeeping:
    """For admins whose deletes cascade to blob links and manifest references: those rows
    are listed read-only (nobody deletes them by hand), which would make Django refuse the
    delete for want of a permission on them; they go with their repository or manifest."""

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        bookkeeping = {str(model._meta.verbose_name) for model in (RepositoryBlob, ManifestReference)}
        return deleted, counts, set(perms_needed) - bookkeeping, protected
