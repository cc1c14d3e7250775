"""Housekeeping: retention policies, backup leases, and the table-less models the admin's
garbage-collection, stale-upload and storage-by-namespace pages hang on."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .access import Namespace
from .core import Blob, Repository, Upload


def validate_tag_pattern(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"not a regular expression: {exc}") from None


class RetentionPolicy(models.Model):
    """Which tags `manage.py retention` deletes in a namespace or in one repository.

    Among the tags whose whole name matches `tag_pattern`, a tag is kept when any `keep_*`
    rule keeps it and deleted otherwise; services/retention.py applies it.
    """

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, null=True, blank=True, related_name="retention_policies")
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, null=True, blank=True, related_name="retention_policies")
    tag_pattern = models.CharField(
        max_length=255, default=".*", validators=[validate_tag_pattern],
        help_text="Python regular expression matched against the whole tag name; other tags are left alone.",
    )
    keep_last = models.PositiveIntegerField(null=True, blank=True, help_text="Keep the N most recently pushed matching tags.")
    keep_pushed_days = models.PositiveIntegerField(null=True, blank=True, help_text="Keep matching tags pushed in the last D days.")
    keep_pulled_days = models.PositiveIntegerField(null=True, blank=True, help_text="Keep matching tags pulled in the last D days.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "retention policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(namespace__isnull=False, repository__isnull=True) | Q(namespace__isnull=True, repository__isnull=False),
                name="retention_on_namespace_xor_repository",
            ),
            models.CheckConstraint(
                condition=Q(keep_last__isnull=False) | Q(keep_pushed_days__isnull=False) | Q(keep_pulled_days__isnull=False),
                name="retention_has_a_rule",
                violation_error_message="Set at least one of keep last, keep pushed days, keep pulled days.",
            ),
        ]

    def __str__(self) -> str:
        rules = []
        if self.keep_last is not None:
            rules.append(f"keep last {self.keep_last}")
        if self.keep_pushed_days is not None:
            rules.append(f"keep pushed < {self.keep_pushed_days}d")
        if self.keep_pulled_days is not None:
            rules.append(f"keep pulled < {self.keep_pulled_days}d")
        return f"{self.namespace or self.repository} /{self.tag_pattern}/: {', '.join(rules)}"


class BackupLease(models.Model):
    """A backup copying blobs right now: while its heartbeat is fresh, garbage collection
    deletes no blob (services/backup.py, services/gc/sweep.py)."""

    destination = models.CharField(max_length=1000)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"backup to {self.destination} since {self.started_at:%Y-%m-%d %H:%M}"


class GarbageCollection(Blob):
    """No table: the admin's garbage-collection page (admin/housekeeping.py) hangs on it."""

    class Meta:
        proxy = True
        verbose_name = "garbage collection"
        verbose_name_plural = "garbage collection"


class StaleUpload(Upload):
    """No table: the admin's "purge stale uploads" page."""

    class Meta:
        proxy = True
        verbose_name = "stale upload"
        verbose_name_plural = "stale uploads"


class NamespaceUsage(Namespace):
    """No table: the admin's storage-by-namespace page (usage beside quota)."""

    class Meta:
        proxy = True
        verbose_name = "storage by namespace"
        verbose_name_plural = "storage by namespace"
