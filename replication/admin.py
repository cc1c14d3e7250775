"""Admin for replication: remotes (password write-only, as the proxy's), rules with
"replicate now", and the queue and execution log, read-only."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from registry_api.admin.credentials import StoredPasswordColumn, WriteOnlyPasswordForm

from .client import RemoteClient, RemoteError
from .models import Artifact, Job, Remote, Rule, Run
from .triggers import replicate_now


class RemoteForm(WriteOnlyPasswordForm):
    upstream_url = forms.URLField(label="URL", max_length=500, assume_scheme="https",
                                  help_text=Remote._meta.get_field("upstream_url").help_text)

    class Meta:
        model = Remote
        fields = ("name", "upstream_url", "username", "password", "clear_password", "password_env", "max_concurrent")


@admin.register(Remote)
class RemoteAdmin(StoredPasswordColumn, admin.ModelAdmin):
    form = RemoteForm
    list_display = ("name", "upstream_url", "username", "max_concurrent")
    readonly_fields = ("password_stored", "created_at")
    actions = ["test_connection"]

    def get_fields(self, request, obj=None):
        return [*self.form.Meta.fields, *self.readonly_fields]


    @admin.action(description="Test connection (GET /v2/ with the credentials)")
    def test_connection(self, request, queryset) -> None:
        for remote in queryset:
            try:
                RemoteClient(remote).ping()
            except RemoteError as exc:
                self.message_user(request, f"Remote {remote.name}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Remote {remote.name}: connected and authenticated.", messages.SUCCESS)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("name", "direction", "remote", "repository_globs", "tag_filter", "destination_prefix",
                    "replicate_deletes", "include_referrers", "on_push", "interval_minutes", "enabled")
    list_filter = ("direction", "enabled", "remote")
    search_fields = ("name", "repositories")
    readonly_fields = ("last_scheduled_at", "created_at")
    actions = ["run_now"]

    @admin.display(description="repositories")
    def repository_globs(self, rule: Rule) -> str:
        return ", ".join(rule.repositories.split())

    @admin.action(description="Replicate now (a full pass, by the worker)")
    def run_now(self, request, queryset) -> None:
        jobs = [replicate_now(rule) for rule in queryset]
        self.message_user(request, f"{len(jobs)} full pass(es) queued; the replication worker runs them.")


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class RunInline(admin.TabularInline):
    model = Run
    fields = ("started_at", "finished_at", "succeeded", "artifacts_copied", "artifacts_skipped",
              "artifacts_failed", "bytes_sent", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadOnly):
    list_display = ("created_at", "rule", "kind", "trigger", "repository", "reference", "status", "attempts",
                    "next_attempt_at", "last_error")
    list_filter = ("status", "kind", "trigger", "rule")
    search_fields = ("repository", "reference")
    list_select_related = ("rule__remote",)
    inlines = [RunInline]


class ArtifactInline(admin.TabularInline):
    model = Artifact
    fields = ("kind", "repository", "digest", "tag", "state", "bytes", "duration_ms", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(ReadOnly):
    list_display = ("started_at", "job", "succeeded", "artifacts_copied", "artifacts_skipped", "artifacts_failed",
                    "bytes_sent", "error")
    list_filter = ("succeeded",)
    list_select_related = ("job__rule__remote",)
    inlines = [ArtifactInline]


@admin.register(Artifact)
class ArtifactAdmin(ReadOnly):
    list_display = ("at", "kind", "repository", "digest", "tag", "state", "bytes", "duration_ms", "error")
    list_filter = ("state", "kind")
    search_fields = ("repository", "digest", "tag")
