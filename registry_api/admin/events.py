"""Admin pages for the audit trail (read-only), webhooks with their delivery log, and the
record of garbage collection runs (read-only)."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from ..events.webhooks import webhook_secret_apply
from ..models import AuditEvent, GcRun, Webhook, WebhookDelivery
from ..services.deliveries import delivery_redeliver


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "actor", "repository", "target", "client_address")
    list_filter = ("action",)
    search_fields = ("actor", "repository", "target", "request_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    # An audit trail nobody can edit: no add, change or delete.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    max_num = 0
    fields = ("created_at", "event", "status", "attempts", "last_status_code", "last_error", "delivered_at")
    readonly_fields = fields
    ordering = ("-created_at",)
    show_change_link = True


class WebhookForm(forms.ModelForm):
    """The secret is never rendered back: it signs deliveries, and a change page is seen by
    every staff member who may view webhooks (and by their browser's history and cache)."""

    new_secret = forms.CharField(
        label="New secret", required=False, strip=True, max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Signs each delivery (X-Registry-Signature: sha256=HMAC(secret, body)). Leave blank to keep "
                  "the current one; when adding, blank generates one, shown once.",
    )
    unsigned = forms.BooleanField(label="Send unsigned", required=False, help_text="Remove the secret.")
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = Webhook
        exclude = ("secret",)


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ("name", "url", "namespace", "repository_name", "on_push", "on_delete", "active", "signed")
    list_filter = ("active", "on_push", "on_delete")
    search_fields = ("name", "url", "namespace__name", "repository_name")
    autocomplete_fields = ("namespace",)
    readonly_fields = ("signed",)
    inlines = [DeliveryInline]

    @admin.display(boolean=True, description="signed")
    def signed(self, obj: Webhook) -> bool:
        return bool(obj.secret)

    def save_model(self, request, obj: Webhook, form, change) -> None:
        generated = webhook_secret_apply(webhook=obj, new_secret=form.cleaned_data.get("new_secret") or "",
                                         unsigned=bool(form.cleaned_data.get("unsigned")), created=not change)
        if generated:
            messages.warning(request, f"Webhook secret, shown once: {generated}  (give it to the receiver "
                                      "to check X-Registry-Signature)")
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "webhook", "event", "status", "attempts", "last_status_code", "next_attempt_at")
    list_filter = ("status", "event")
    search_fields = ("webhook__name",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["send_now"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Send selected deliveries again now")
    def send_now(self, request, queryset) -> None:
        for delivery in queryset.select_related("webhook"):
            delivery_redeliver(delivery=delivery)
        self.message_user(request, f"{queryset.count()} delivery attempt(s) made.")


@admin.register(GcRun)
class GcRunAdmin(admin.ModelAdmin):
    """What each garbage collection freed (also in /metrics as registry_gc_*)."""

    list_display = ("finished_at", "blobs_deleted", "bytes_freed", "manifests_deleted", "links_removed",
                    "duration_seconds")
    date_hierarchy = "finished_at"
    readonly_fields = [f.name for f in GcRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
