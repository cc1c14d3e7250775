"""Images: repositories, blobs, manifests, tags and upload sessions. Blob bytes live in
`storage_backends`; these rows say what exists where.

A blob is global (content addressed) but visible in a repository only through a
RepositoryBlob link, as in the reference registry. Manifests keep the exact bytes pushed.
"""
from __future__ import annotations

import uuid

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
