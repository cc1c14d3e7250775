"""Registry metadata. Blob bytes live in `storage_backends`; these rows say what exists where.

A blob is global (content addressed) but visible in a repository only through a
RepositoryBlob link, as in the reference registry. Manifests keep the exact bytes pushed.
"""
from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

# \Z, not $: on SQLite the check runs Python's re, where $ also matches before a final
# newline ("sha256:…\n"); \A and \Z mean the ends of the string there and in PostgreSQL.
DIGEST_REGEX = r"\A(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})\Z"


class Repository(models.Model):
    name = models.CharField(max_length=255, unique=True)
    # Anyone, signed in or not, may pull from a public repository.
    public = models.BooleanField(default=False)
    immutable_tags = models.BooleanField(
        default=False,
        help_text="A push may not move an existing tag to another manifest (re-pushing the same digest is fine).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "repositories"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def namespace(self) -> str:
        return self.name.split("/", 1)[0]


class Blob(models.Model):
    digest = models.CharField(max_length=200, unique=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(size__gte=0), name="blob_size_non_negative"),
            models.CheckConstraint(condition=Q(digest__regex=DIGEST_REGEX), name="blob_digest_format"),
        ]

    def __str__(self) -> str:
        return self.digest


class RepositoryBlob(models.Model):
    """A blob pushed or mounted into a repository, and so readable from it."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="blob_links")
    blob = models.ForeignKey(Blob, on_delete=models.CASCADE, related_name="repository_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "blob"], name="repository_blob_unique"),
        ]


class Manifest(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="manifests")
    digest = models.CharField(max_length=200)
    media_type = models.CharField(max_length=255)
    # The exact bytes received; the digest is over these.
    payload = models.BinaryField()
    size = models.BigIntegerField()
    # For the Referrers API: what this manifest is and what it refers to.
    artifact_type = models.CharField(max_length=255, blank=True, default="")
    subject_digest = models.CharField(max_length=200, blank=True, default="", db_index=True)
    annotations = models.JSONField(default=dict, blank=True)
    # When this manifest was first pushed here (not when the image was built).
    created_at = models.DateTimeField(auto_now_add=True)
    # Last GET through a proxy or group namespace, at most once a minute: proxy caches
    # expire manifests on it (registry_api/proxy/expiry.py). Not written for hosted pulls.
    last_pulled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The image's own build time, `created` in its config blob, read once at push time so
    # tag lists show it without reading a blob per row; null for indexes and artifacts,
    # and for configs without it or larger than configblobs.CREATED_CONFIG_MAX_BYTES.
    image_created = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "digest"], name="manifest_unique_digest"),
            models.CheckConstraint(condition=Q(digest__regex=DIGEST_REGEX), name="manifest_digest_format"),
            models.CheckConstraint(condition=Q(size__gte=0), name="manifest_size_non_negative"),
        ]
        indexes = [
            models.Index(fields=["repository", "subject_digest"], name="manifest_subject_idx"),
            # Pushes per day on the dashboard; untagged manifests and last pushes per repository.
            models.Index(fields=["created_at"], name="manifest_created_idx"),
            models.Index(fields=["repository", "created_at"], name="manifest_repo_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.repository.name}@{self.digest}"


class ManifestReference(models.Model):
    """What a manifest needs: its config and layer blobs, or an index's child manifests.

    Blob references protect the blob row; child manifests are referenced by digest so an
    index survives the deletion of a child, as in the reference registry.
    """

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="references")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    child_digest = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        # "Which indexes list this manifest?" (the delete warning, garbage collection).
        indexes = [models.Index(fields=["child_digest"], name="reference_child_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(blob__isnull=False) & Q(child_digest="")) | (Q(blob__isnull=True) & ~Q(child_digest="")),
                name="reference_is_blob_xor_child",
            ),
        ]


class Tag(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=128)
    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="tags")
    updated_at = models.DateTimeField(auto_now=True)
    # Last manifest GET through this tag (or of its digest), written at most once a
    # minute per tag: a criterion of retention policies.
    last_pulled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # In a proxy cache: when upstream last confirmed this tag's digest; served without
    # asking again for the proxy's manifest TTL. Null for hosted tags.
    upstream_checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "name"], name="tag_unique_name")]
        indexes = [
            # Recent pushes on the dashboard (newest first, over every repository)…
            models.Index(fields=["updated_at"], name="tag_updated_idx"),
            # …and a repository's tags, newest first, and its last push.
            models.Index(fields=["repository", "updated_at"], name="tag_repo_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.repository.name}:{self.name}"


class Upload(models.Model):
    """An upload session; its bytes are staged by the storage backend under the same id.

    It names its repository rather than referencing a row: the repository comes into being
    with the first blob committed, mounted or manifest pushed into it, so a session that
    never finishes leaves no empty repository in the catalog.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    repository_name = models.CharField(max_length=255, db_index=True)
    # What the client announced with `?digest-algorithm=`: the session hashes with it in flight.
    digest_algorithm = models.CharField(max_length=16, default="sha256", editable=False)
    started_at = models.DateTimeField(auto_now_add=True)
    # Set (and committed) just before the verified bytes are moved into place under this
    # digest, cleared with the row once the blob is registered: garbage collection never
    # deletes a blob that a session is committing (services/gc/ explains the race).
    digest = models.CharField(max_length=200, blank=True, default="", db_index=True, editable=False)
    # When `digest` was claimed: upload purge leaves a claimed session alone unless its
    # claim is far older than any commit takes (services/upload_purge.py).
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.repository_name} upload {self.id}"


# --- Access control ---------------------------------------------------------------------


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


# --- Housekeeping -------------------------------------------------------------------------


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
    """No table: the admin's garbage-collection page (admin_housekeeping.py) hangs on it."""

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

