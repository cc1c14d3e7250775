"""Proxy and group namespaces, and the proxy cache's bookkeeping rows.

A proxy namespace's repositories are ordinary `Repository` rows named
`<proxy>/<upstream name>`: what the cache holds is pushed through the same tables, so
garbage collection, fsck, quotas, retention and the portal see it like anything else.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from ..oci.reference import NAME_COMPONENT
from .core import Repository

NAMESPACE_REGEX = rf"^{NAME_COMPONENT}$"
validate_namespace_name = RegexValidator(
    NAMESPACE_REGEX, "One name component: lowercase letters, digits and . _ - separators.",
)


def _check_namespace_free(name: str, *, kind: str, exclude_pk: int | None) -> None:
    """A namespace is one thing: hosted, a proxy or a group. Refuse to shadow another."""
    if kind != "proxy" and ProxyNamespace.objects.filter(name=name).exists():
        raise ValidationError({"name": f"{name} is already a proxy namespace."})
    if kind != "group" and GroupNamespace.objects.filter(name=name).exists():
        raise ValidationError({"name": f"{name} is already a group namespace."})
    if exclude_pk is None and Repository.objects.filter(Q(name=name) | Q(name__startswith=f"{name}/")).exists():
        raise ValidationError({"name": f"{name} holds hosted repositories; pick a namespace nothing was pushed to."})


class ProxyNamespace(models.Model):
    """A pull-through cache: `<name>/<upstream name>` is fetched from `upstream_url` on first
    pull and served from here afterwards (registry_api/proxy/)."""

    name = models.CharField(
        max_length=100, unique=True, validators=[validate_namespace_name],
        help_text="Local namespace, e.g. hub: docker pull <this server>/hub/library/alpine:3.20",
    )
    upstream_url = models.URLField(
        max_length=500,
        help_text="Base URL of the upstream registry, e.g. https://registry-1.docker.io (Docker Hub), https://ghcr.io",
    )
    library_default = models.BooleanField(
        default=False,
        help_text="Docker Hub's rule: a one-component name (hub/alpine) means library/alpine upstream.",
    )
    username = models.CharField(max_length=200, blank=True, default="", help_text="Upstream user; empty = anonymous.")
    # Fernet token of the upstream password, keyed from SECRET_KEY (proxy/credentials.py).
    password_encrypted = models.TextField(blank=True, default="", editable=False)
    password_env = models.CharField(
        max_length=200, blank=True, default="",
        help_text="Instead of a stored password: the environment variable holding it (or NAME_FILE naming a file).",
    )
    manifest_ttl = models.PositiveIntegerField(
        default=3600, help_text="Seconds a cached tag is served without asking upstream whether it moved.",
    )
    expire_after_days = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="manage.py proxy_expire deletes cached tags and manifests not pulled for this many days "
                  "(garbage collection then frees their blobs); empty = never.",
    )
    cache_hits = models.PositiveBigIntegerField(default=0, editable=False)
    cache_misses = models.PositiveBigIntegerField(default=0, editable=False)
    last_error = models.CharField(max_length=500, blank=True, default="", editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "proxy repository"
        verbose_name_plural = "proxy repositories"
        constraints = [
            models.CheckConstraint(condition=Q(name__regex=NAMESPACE_REGEX), name="proxy_name_is_one_component"),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.upstream_url}"

    def clean(self) -> None:
        if self.name:
            _check_namespace_free(self.name, kind="proxy", exclude_pk=self.pk)
        if self.password_env and self.password_encrypted:
            raise ValidationError("Give a stored password or an environment variable, not both.")
        if self.upstream_url:
            self.upstream_url = self.upstream_url.rstrip("/")


class GroupNamespace(models.Model):
    """One namespace that answers pulls from an ordered list of hosted and proxy namespaces."""

    name = models.CharField(max_length=100, unique=True, validators=[validate_namespace_name])
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "group repository"
        verbose_name_plural = "group repositories"
        constraints = [
            models.CheckConstraint(condition=Q(name__regex=NAMESPACE_REGEX), name="group_name_is_one_component"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.name:
            _check_namespace_free(self.name, kind="group", exclude_pk=self.pk)


class GroupMember(models.Model):
    """A hosted or proxy namespace in a group; lower positions are asked first."""

    group = models.ForeignKey(GroupNamespace, on_delete=models.CASCADE, related_name="members")
    position = models.PositiveIntegerField(default=0)
    namespace = models.CharField(max_length=100, validators=[validate_namespace_name])

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["group", "namespace"], name="group_member_unique")]

    def __str__(self) -> str:
        return f"{self.group.name}[{self.position}] = {self.namespace}"

    def clean(self) -> None:
        if self.namespace and GroupNamespace.objects.filter(name=self.namespace).exists():
            raise ValidationError({"namespace": "Groups do not nest: list the other group's members instead."})


class ProxyFetch(models.Model):
    """A blob being fetched from upstream right now: the advisory lock that makes concurrent
    pulls of one digest, in any worker, fetch it once (proxy/blobs.py). The row goes with
    its upload session, so `purge_uploads` also clears what a crashed fetch left."""

    digest = models.CharField(max_length=200, unique=True)
    upload = models.OneToOneField("registry_api.Upload", on_delete=models.CASCADE, null=True, related_name="+")
    # Upstream's Content-Length, when it sent one: what followers may serve before the commit.
    size = models.BigIntegerField(null=True)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"fetching {self.digest}"


class PendingBlobReference(models.Model):
    """A cached manifest's config or layer not fetched yet: it becomes a ManifestReference
    when the blob arrives, so garbage collection keeps the blob for that manifest."""

    manifest = models.ForeignKey("registry_api.Manifest", on_delete=models.CASCADE, related_name="pending_blobs")
    digest = models.CharField(max_length=200, db_index=True)
    size = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["manifest", "digest"], name="pending_reference_unique")]
