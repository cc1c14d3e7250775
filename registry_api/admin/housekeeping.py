"""Admin pages for housekeeping: garbage collection (a dry-run preview, then a confirmed
run), stale uploads, storage by namespace beside quotas, and retention policies with a
preview of what they would delete. Each page calls the same services as the management
commands; running anything destructive needs a superuser and a POST from the preview."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from ..lib.units import format_bytes
from ..models import GarbageCollection, NamespaceUsage, RetentionPolicy, StaleUpload
from ..services.backup_lease import backup_lease_active
from ..services.gc import GcPreviewExpired, gc_plan, gc_plan_token, gc_run
from ..services.quotas import storage_by_namespace
from ..services.retention import retention_plan
from ..services.upload_purge import upload_purge

# Items listed on a preview page; the totals always cover everything.
PREVIEW_ROWS = 500


class HousekeepingPage(admin.ModelAdmin):
    """A page, not a table: its model is a proxy that only gives it a place in the admin."""

    template = ""
    title = ""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        from django.urls import path

        info = self.opts.app_label, self.opts.model_name
        return [path("", self.admin_site.admin_view(self.changelist_view), name="%s_%s_changelist" % info)]

    def context(self, request) -> dict:
        raise NotImplementedError

    def run(self, request) -> None:
        raise NotImplementedError

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if not request.user.is_superuser:
                raise PermissionDenied
            self.run(request)
            return redirect(request.get_full_path())
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "title": self.title,
            "can_run": request.user.is_superuser, **self.context(request),
        }
        return TemplateResponse(request, self.template, context)


@admin.register(GarbageCollection)
class GarbageCollectionAdmin(HousekeepingPage):
    template = "admin/registry_api/garbage_collection.html"
    title = "Garbage collection"

    def context(self, request) -> dict:
        delete_untagged = request.GET.get("delete_untagged") == "on"
        plan = gc_plan(delete_untagged=delete_untagged)
        items = plan.items
        return {
            "plan": plan, "items": items[:PREVIEW_ROWS], "more": max(len(items) - PREVIEW_ROWS, 0),
            "total": len(items), "token": gc_plan_token(plan), "lease": backup_lease_active(),
            "delete_untagged": delete_untagged, "freed": format_bytes(plan.bytes),
            "grace": timedelta(seconds=settings.REGISTRY_GC_GRACE_PERIOD),
        }

    def run(self, request) -> None:
        """Run the previewed plan (its signed token), not a new one: only what was shown goes."""
        try:
            report = gc_run(delete_untagged=request.POST.get("delete_untagged") == "on",
                            previewed=request.POST.get("plan", ""))
        except GcPreviewExpired as exc:
            self.message_user(request, f"Nothing was deleted: {exc}.", messages.ERROR)
            return
        kept = report.kept_on_recheck + report.plan.no_longer_garbage
        self.message_user(request, (
            f"Garbage collection deleted {report.manifests_deleted} manifest(s), {report.links_removed} "
            f"repository link(s) and {report.blobs_deleted} blob(s) of the preview, "
            f"{format_bytes(report.bytes_freed)} freed"
            + (f"; {kept} previewed item(s) kept because they were in use again" if kept else "")
            + "."
        ), messages.SUCCESS)
        if report.blobs_deferred:
            self.message_user(request, f"{report.blobs_deferred} blob(s) were left for a later run: "
                              f"{report.deferred_because}.", messages.WARNING)
        for digest in report.files_left:
            self.message_user(request, f"The file of {digest} could not be deleted; fsck --repair removes it.",
                              messages.WARNING)


@admin.register(StaleUpload)
class StaleUploadAdmin(HousekeepingPage):
    template = "admin/registry_api/stale_uploads.html"
    title = "Stale uploads"

    def _age(self) -> timedelta:
        return timedelta(seconds=settings.REGISTRY_UPLOAD_PURGE_AGE)

    def context(self, request) -> dict:
        report = upload_purge(older_than=self._age(), dry_run=True)
        return {"report": report, "age": self._age(), "size": format_bytes(report.bytes)}

    def run(self, request) -> None:
        report = upload_purge(older_than=self._age())
        self.message_user(request, (
            f"Purged {len(report.sessions)} upload session(s) and {len(report.orphans)} orphan staging "
            f"area(s), {format_bytes(report.bytes)}."
        ), messages.SUCCESS)


@admin.register(NamespaceUsage)
class NamespaceUsageAdmin(HousekeepingPage):
    template = "admin/registry_api/namespace_usage.html"
    title = "Storage by namespace"

    def context(self, request) -> dict:
        rows, physical = storage_by_namespace()
        return {
            "rows": [{
                "namespace": r.namespace,
                "quota": "unlimited" if r.quota_bytes is None else format_bytes(r.quota_bytes),
                "attributed": format_bytes(r.attributed_bytes),
                "exclusive": format_bytes(r.exclusive_bytes),
                "percent": None if not r.quota_bytes else round(100 * r.attributed_bytes / r.quota_bytes),
            } for r in rows],
            "physical": format_bytes(physical),
            "attributed_total": format_bytes(sum(r.attributed_bytes for r in rows)),
        }


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "namespace", "repository", "tag_pattern", "keep_last", "keep_pushed_days",
                    "keep_pulled_days", "enabled")
    list_filter = ("enabled",)
    search_fields = ("namespace__name", "repository__name", "tag_pattern")
    autocomplete_fields = ("namespace", "repository")
    change_list_template = "admin/registry_api/retentionpolicy/change_list.html"

    def changelist_view(self, request, extra_context=None):
        """The list, with what the enabled policies would delete now (`retention --dry-run`)."""
        decisions = retention_plan()
        extra = {"decisions": decisions[:PREVIEW_ROWS], "more": max(len(decisions) - PREVIEW_ROWS, 0),
                 "total": len(decisions)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})
