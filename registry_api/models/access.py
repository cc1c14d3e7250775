"""Access control: namespaces, grants, access tokens, robot accounts and the failed-login
throttle's counters (registry_api/auth/ reads and writes them)."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from .core import Repository


class Namespace(models.Model):
    """The first component of repository names (`team` in `team/app`): the unit of grants."""

    name = models.CharField(max_length=255, unique=True)
    public = models.BooleanField(default=False, help_text="Anyone may pull every repository in it.")
    description = models.CharField(max_length=500, blank=True, default="")
    quota_bytes = models.BigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)],
        help_text="Most bytes its repositories may hold, each blob counted once in the namespace; empty = unlimited.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Grant(models.Model):
    """A user or a group may act on a namespace or on one repository, up to `level`.

    Levels are cumulative: push includes pull, delete includes push, admin includes all.
    """

    class Level(models.TextChoices):
        PULL = "pull", "pull"
        PUSH = "push", "push (and pull)"
        DELETE = "delete", "delete (and push, pull)"
        ADMIN = "admin", "admin (everything)"

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, null=True, blank=True, related_name="grants")
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, null=True, blank=True, related_name="grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="registry_grants")
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, null=True, blank=True, related_name="registry_grants")
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.PULL)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(namespace__isnull=False, repository__isnull=True) | Q(namespace__isnull=True, repository__isnull=False),
                name="grant_on_namespace_xor_repository",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="grant_to_user_xor_group",
            ),
        ]

    def __str__(self) -> str:
        who = self.user or self.group
        what = self.namespace or self.repository
        return f"{who}: {self.level} on {what}"


class AccessToken(models.Model):
    """A personal or robot credential, usable as the password in `docker login`.

    Only a SHA-256 of the secret is stored (the secret is random, so no slow hash is
    needed); the secret itself is shown once, when the token is created.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="registry_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False, help_text="First characters, to recognise the token.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(default=False, help_text="Only pull, whatever the user may do.")
    # CASCADE, not SET_NULL: a limited token must never outlive its limit as an unlimited one.
    namespace = models.ForeignKey(
        Namespace, on_delete=models.CASCADE, null=True, blank=True, related_name="tokens",
        help_text="Only repositories in this namespace, whatever the user may do elsewhere; empty = no limit.",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.user}: {self.name} ({self.prefix}…)"


class RobotAccount(models.Model):
    """A user that is a machine (CI, a deploy bot): no usable password, so it signs in only
    with its access tokens, and it is listed apart from people in the admin."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="robot_account"
    )
    description = models.CharField(max_length=500, blank=True, default="", help_text="What it is for, who owns it.")
    created_by = models.CharField(max_length=150, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return str(self.user)


class LoginThrottle(models.Model):
    """Failed password logins per key (`pair:<ip> <name>`, `addr:<ip>` or `user:<name>`)
    within the current window; auth/throttle.py has the rules."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(db_index=True)
    # On `pair:` rows: a keyed hash of the last wrong attempt, so a client's immediate
    # retry of the same password (ctr sends each twice) counts once.
    last_fingerprint = models.CharField(max_length=64, blank=True, default="")
    last_failed_at = models.DateTimeField(null=True, blank=True)
