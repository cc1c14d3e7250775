"""Admin pages for the audit trail (read-only) and for webhooks with their delivery log."""
from __future__ import annotations

from django.contrib import admin

from .events.models import AuditEvent, Webhook, WebhookDelivery
from .events.webhooks import attempt


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


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "namespace", "repository", "on_push", "on_delete", "active")
    list_filter = ("active", "on_push", "on_delete")
    search_fields = ("name", "url", "namespace__name", "repository__name")
    autocomplete_fields = ("namespace", "repository")
    inlines = [DeliveryInline]


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
            delivery.status = WebhookDelivery.Status.PENDING
            attempt(delivery)
        self.message_user(request, f"{queryset.count()} delivery attempt(s) made.")
