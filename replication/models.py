"""Replication's rows: remote registries, rules, the job queue and the execution log.

The queue lives in the database (no broker): a job is claimed by one worker
(queue.py), each attempt at it is a run, and each artifact a run sent, skipped or
failed on is one log row, so "what is over there, and since when" can be answered.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from . import rules


class Remote(models.Model):
    """Another OCI registry. Its password is stored as the proxy's upstream passwords are
    (encrypted, or named in the environment) so the same client talks to both."""

    name = models.SlugField(max_length=100, unique=True)
    upstream_url = models.URLField(
        "URL", max_length=500, help_text="Base URL of the registry, e.g. https://registry.example.com",
    )
    username = models.CharField(max_length=200, blank=True, default="",
                                help_text="Empty = anonymous. Basic or the Docker token protocol, as the remote asks.")
    password_encrypted = models.TextField(blank=True, default="", editable=False)
    password_env = models.CharField(
        max_length=200, blank=True, default="",
        help_text="Instead of a stored password: the environment variable holding it (or NAME_FILE naming a file).",
    )
    max_concurrent = models.PositiveSmallIntegerField(
        default=2, help_text="Jobs run against this remote at once, over all workers.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(max_concurrent__gte=1), name="remote_concurrency_positive")]

    def __str__(self) -> str:
        return f"{self.name} ({self.upstream_url})"

    def clean(self) -> None:
        if self.password_env and self.password_encrypted:
            raise ValidationError("Give a stored password or an environment variable, not both.")
        if self.upstream_url:
            self.upstream_url = self.upstream_url.rstrip("/")


class Rule(models.Model):
    """What to keep identical, in which direction."""

    class Direction(models.TextChoices):
        PUSH = "push", "push (from here to the remote)"
        PULL = "pull", "pull (from the remote to here)"

    name = models.CharField(max_length=100, unique=True)
    remote = models.ForeignKey(Remote, on_delete=models.PROTECT, related_name="rules")
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.PUSH)
    repositories = models.TextField(
        help_text="Source repositories, one glob a line: team/** (any depth), team/* (one level), team/app. "
                  "Pull rules list the remote's repositories; globs then need the remote's catalog.",
    )
    tag_filter = models.CharField(max_length=300, blank=True, default="",
                                  help_text="Tags to copy: a glob (v*, release-?) or /a regex/; empty = every tag.")
    destination_prefix = models.CharField(
        max_length=200, blank=True, default="",
        help_text="Namespace put in front of each name on the destination: mirror turns team/app into mirror/team/app.",
    )
    replicate_deletes = models.BooleanField(default=False, help_text="A tag or manifest deleted at the source is "
                                                                      "deleted at the destination (push rules).")
    include_referrers = models.BooleanField(default=True, help_text="Signatures, SBOMs and attestations go along "
                                                                     "with their subject.")
    on_push = models.BooleanField(default=True, help_text="Push rules: replicate each push and tag move within seconds.")
    interval_minutes = models.PositiveIntegerField(null=True, blank=True,
                                                   help_text="Also a full pass every so many minutes; empty = never.")
    enabled = models.BooleanField(default=True)
    last_scheduled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.direction} {self.remote.name}"

    def clean(self) -> None:
        try:
            rules.parse_globs(self.repositories)
            rules.tag_matcher(self.tag_filter)
            rules.destination_name("x", self.destination_prefix)
        except rules.RuleInvalid as exc:
            raise ValidationError(str(exc)) from None

    @property
    def globs(self) -> list[str]:
        return rules.parse_globs(self.repositories)


class Job(models.Model):
    """Something to replicate: one tag (or digest) of one repository, a delete, or a full
    pass of its rule (empty `repository`). Retried with backoff until it succeeds or
    REGISTRY_REPLICATION_MAX_ATTEMPTS."""

    class Kind(models.TextChoices):
        COPY = "copy"
        DELETE = "delete"
        SYNC = "sync", "full pass"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        EVENT = "event"
        SCHEDULE = "schedule"
        MANUAL = "manual"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    trigger = models.CharField(max_length=8, choices=Trigger.choices)
    repository = models.CharField(max_length=255, blank=True, default="", help_text="Source name; empty = all.")
    reference = models.CharField(max_length=300, blank=True, default="", help_text="Tag or digest.")
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    # A crashed worker's claim lapses at this time and the job is taken again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="replication_job_due")]

    def __str__(self) -> str:
        what = f"{self.repository}:{self.reference}" if self.repository else "all"
        return f"{self.kind} {what} ({self.rule.name})"


class Run(models.Model):
    """One attempt at a job."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    succeeded = models.BooleanField(null=True)
    artifacts_copied = models.PositiveIntegerField(default=0)
    artifacts_skipped = models.PositiveIntegerField(default=0)
    artifacts_failed = models.PositiveIntegerField(default=0)
    bytes_sent = models.PositiveBigIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.job}"


class Artifact(models.Model):
    """One blob, manifest or delete of a run, and what became of it."""

    class State(models.TextChoices):
        COPIED = "copied"
        MOUNTED = "mounted"
        SKIPPED = "skipped", "skipped (already there)"
        DELETED = "deleted"
        FAILED = "failed"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=10)  # blob, manifest, tag
    repository = models.CharField(max_length=255, help_text="Destination repository.")
    digest = models.CharField(max_length=200, blank=True, default="")
    tag = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=7, choices=State.choices)
    bytes = models.PositiveBigIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["digest", "state"], name="replication_artifact_digest")]

    def __str__(self) -> str:
        return f"{self.kind} {self.repository}@{self.digest or self.tag}: {self.state}"
