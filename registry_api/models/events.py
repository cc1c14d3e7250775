"""Audit trail and webhook rows (registry_api/events/ writes and sends them)."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class AuditEvent(models.Model):
    """One thing that happened: a push, a delete, a login, a permission change."""

    class Action(models.TextChoices):
        PUSH = "push"
        DELETE = "delete"
        LOGIN = "login"
        LOGIN_FAILED = "login_failed"
        PERMISSION = "permission"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    actor = models.CharField(max_length=150, blank=True, default="", db_index=True)
    client_address = models.CharField(max_length=64, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    repository = models.CharField(max_length=255, blank=True, default="", db_index=True)
    target = models.CharField(max_length=300, blank=True, default="", help_text="Tag, digest or object changed.")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor or 'anonymous'} {self.action} {self.repository} {self.target}"


class Webhook(models.Model):
    """An HTTP endpoint told about pushes and deletes in a namespace, a repository, or everywhere.

    A repository is named, not referenced: a hook must outlive the repository it watches, to
    hear of its deletion (and keep its delivery log), and apply again when it is pushed anew.
    """

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, blank=True, default="",
                              help_text="Signs each delivery: X-Registry-Signature: sha256=HMAC(secret, body).")
    namespace = models.ForeignKey("registry_api.Namespace", on_delete=models.CASCADE, null=True, blank=True)
    repository_name = models.CharField(
        "repository", max_length=255, blank=True, default="", db_index=True,
        help_text="One repository (e.g. team/app), whether it exists yet or not; empty = not limited to one.",
    )
    on_push = models.BooleanField(default=True)
    on_delete = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(namespace__isnull=True) | Q(repository_name=""),
                name="webhook_on_namespace_or_repository_or_all",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from ..oci.reference import InvalidReference, validate_name

        if self.repository_name:
            try:
                validate_name(self.repository_name)
            except InvalidReference as exc:
                raise ValidationError({"repository_name": str(exc)}) from None


class WebhookDelivery(models.Model):
    """One event for one webhook, retried with backoff until delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=20)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.webhook} {self.event} ({self.status})"


class GcRun(models.Model):
    """One garbage collection that swept (dry runs are not kept). /metrics sums these rows:
    the daily timer runs `gc` in a process of its own, whose counters would die with it."""

    finished_at = models.DateTimeField(auto_now_add=True, db_index=True)
    manifests_deleted = models.PositiveBigIntegerField(default=0)
    links_removed = models.PositiveBigIntegerField(default=0)
    blobs_deleted = models.PositiveBigIntegerField(default=0)
    bytes_freed = models.PositiveBigIntegerField(default=0)
    duration_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-finished_at", "-id"]
        verbose_name = "garbage collection run"

    def __str__(self) -> str:
        return f"{self.finished_at:%Y-%m-%d %H:%M:%S}: {self.blobs_deleted} blobs, {self.bytes_freed} bytes"
