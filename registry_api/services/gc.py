"""Garbage collection: mark what is still needed, sweep the rest, while pushes go on.

The mark (computed in memory from a few queries, never from payloads):
  * in each repository, the roots are its tagged manifests and every manifest pushed within
    the grace period; from them, the children of kept indexes and the referrers (manifests
    whose `subject` is a kept manifest) are kept too, transitively;
  * without `delete_untagged` every manifest is kept, as in the reference registry;
  * a blob is needed while a remaining manifest references it, while a repository link to
    it is younger than the grace period, or while an upload session is committing it.

The sweep, in three phases:
  1. (`delete_untagged`) manifests that are not kept; their references and tags go with them;
  2. repository links that no remaining manifest of that repository references and that are
     older than the grace period (a layer pushed but never used, or left by deleted manifests);
  3. blob rows with no link and no reference, older than the grace period, then their files.

Why this is safe while the registry serves pushes and pulls:
  * Grace period (REGISTRY_GC_GRACE_PERIOD, on manifest, link and blob age): a client pushes
    layers first and the manifest naming them afterwards; until then nothing references the
    layers. A new push or mount of a blob already linked restarts its link's age.
  * Re-check under a lock: every candidate is checked again in the transaction that deletes
    it (manifests and links under `lock_repository`, blob rows locked themselves), against
    the database as it is then, never against the plan; a push that came in meanwhile wins.
  * `manifest_put` checks its references under the same repository lock, so a manifest
    either lands before its blobs are unlinked (and the re-check sees it) or is refused with
    MANIFEST_BLOB_UNKNOWN; it never lands naming a blob that is gone.
  * Files: an upload writes its file before the row exists, so "no row" does not mean "no
    file in use". The session first records the digest it is committing (`Upload.digest`,
    committed before the file is moved into place, dropped after the row exists); phase 3
    skips any digest a session is committing, and deletes the row *and the file* inside one
    transaction. So an upload of the same bytes either announced itself before that
    transaction (the blob is kept) or moves its file into place after the old one is gone.
  * A mount checks its source link and adds the new one in one transaction, which phase 2
    (removing the source link) and phase 3 (needing no link at all) serialize with.
On SQLite the IMMEDIATE write transactions serialize all of this; on PostgreSQL the row
locks taken here, in `upload_commit` and in `blob_mount` do.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from storage_backends import get_storage
from storage_backends.base import BlobNotFound

from ..locking import lock_repository
from ..models import Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag, Upload

logger = logging.getLogger(__name__)

# Rows deleted per transaction: short write locks, few commits.
BATCH = 200

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Garbage:
    """One thing a run deletes, and why."""

    kind: str  # "manifest", "link" or "blob"
    pk: int
    repository_id: int | None  # None for blobs, which are global
    digest: str
    size: int
    reason: str
    repository: str = ""  # its name, for people


@dataclass
class GcPlan:
    cutoff: datetime
    delete_untagged: bool
    manifests: list[Garbage] = field(default_factory=list)
    links: list[Garbage] = field(default_factory=list)
    blobs: list[Garbage] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(g.size for g in self.blobs)


@dataclass
class GcReport:
    dry_run: bool
    plan: GcPlan
    manifests_deleted: int = 0
    links_removed: int = 0
    blobs_deleted: int = 0
    bytes_freed: int = 0
    # Candidates a concurrent push, tag or upload made needed again before their turn.
    kept_on_recheck: int = 0
    # Files whose rows were deleted but which storage failed to delete: orphans for fsck.
    files_left: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    pk: int
    repository_id: int
    digest: str
    subject: str
    created_at: datetime
    size: int


def grace_cutoff(grace_period: timedelta | None = None, now: datetime | None = None) -> datetime:
    if grace_period is None:
        grace_period = timedelta(seconds=settings.REGISTRY_GC_GRACE_PERIOD)
    return (now or timezone.now()) - grace_period


def _short(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}"


def _chunks(items: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- mark -----------------------------------------------------------------------------------


def _manifest_rows(**filters) -> list[_Row]:
    fields = ("pk", "repository_id", "digest", "subject_digest", "created_at", "size")
    return [_Row(*values) for values in Manifest.objects.filter(**filters).values_list(*fields)]


def _children(**filters) -> dict[int, list[str]]:
    children: dict[int, list[str]] = defaultdict(list)
    references = ManifestReference.objects.filter(**filters).exclude(child_digest="")
    for manifest_id, child in references.values_list("manifest_id", "child_digest"):
        children[manifest_id].append(child)
    return children


def _kept(rows: Iterable[_Row], tagged: set[int], children: dict[int, list[str]], cutoff: datetime) -> set[int]:
    """Manifests reachable from a tag or from a manifest within the grace period, following
    index children and referrers, each within its own repository."""
    rows = list(rows)
    by_digest = {(r.repository_id, r.digest): r for r in rows}
    referrers: dict[tuple[int, str], list[_Row]] = defaultdict(list)
    for r in rows:
        if r.subject:
            referrers[(r.repository_id, r.subject)].append(r)
    stack = [r for r in rows if r.pk in tagged or r.created_at >= cutoff]
    kept = {r.pk for r in stack}
    while stack:
        r = stack.pop()
        reached = [by_digest.get((r.repository_id, c)) for c in children.get(r.pk, ())]
        reached += referrers.get((r.repository_id, r.digest), [])
        for n in reached:
            if n is not None and n.pk not in kept:
                kept.add(n.pk)
                stack.append(n)
    return kept


def _manifest_reason(row: _Row, listed_by_index: set[tuple[int, str]], stored: set[tuple[int, str]]) -> str:
    if row.subject:
        state = "not stored" if (row.repository_id, row.subject) not in stored else "not reachable either"
        return f"untagged referrer of {_short(row.subject)}, which is {state}"
    if (row.repository_id, row.digest) in listed_by_index:
        return "untagged, and only listed by indexes that are not reachable either"
    return "untagged, and no tag, index or subject reaches it"


def gc_plan(*, delete_untagged: bool = False, grace_period: timedelta | None = None) -> GcPlan:
    """What a run would delete now, with the reason for each item; deletes nothing.

    The tables are read one after the other while pushes go on, not as one snapshot (on
    SQLite that would hold the write lock), so rows may appear between two reads. The
    reads are ordered so that this only ever keeps more: blobs first (a blob pushed later
    is no candidate), references before links, and the sweep re-checks every candidate.
    """
    plan = GcPlan(cutoff=grace_cutoff(grace_period), delete_untagged=delete_untagged)
    blobs = {pk: (digest, size, created) for pk, digest, size, created in
             Blob.objects.values_list("pk", "digest", "size", "created_at")}
    rows = _manifest_rows()
    doomed: set[int] = set()
    if delete_untagged:
        tagged = set(Tag.objects.values_list("manifest_id", flat=True))
        children = _children()
        kept = _kept(rows, tagged, children, plan.cutoff)
        by_pk = {r.pk: r for r in rows}
        listed = {(by_pk[m].repository_id, c) for m, cs in children.items() if m in by_pk for c in cs}
        stored = {(r.repository_id, r.digest) for r in rows}
        doomed = {r.pk for r in rows if r.pk not in kept}
        plan.manifests = [
            Garbage("manifest", r.pk, r.repository_id, r.digest, r.size, _manifest_reason(r, listed, stored))
            for r in rows if r.pk in doomed
        ]
    needed: set[tuple[int, int]] = set()  # (repository, blob) pairs a remaining manifest references
    freed_by_deletes: set[tuple[int, int]] = set()
    references = ManifestReference.objects.filter(blob__isnull=False)
    for manifest_id, repository_id, blob_id in references.values_list("manifest_id", "manifest__repository_id", "blob_id"):
        (freed_by_deletes if manifest_id in doomed else needed).add((repository_id, blob_id))
    linked_after: set[int] = set()
    removed_links: set[int] = set()
    for pk, repository_id, blob_id, created in RepositoryBlob.objects.values_list("pk", "repository_id", "blob_id", "created_at"):
        pair = (repository_id, blob_id)
        if pair in needed or created >= plan.cutoff or blob_id not in blobs:
            linked_after.add(blob_id)
            continue
        removed_links.add(blob_id)
        reason = ("only referenced by untagged manifests deleted in this run" if pair in freed_by_deletes
                  else "no manifest of the repository references it")
        digest, size, _ = blobs[blob_id]
        plan.links.append(Garbage("link", pk, repository_id, digest, size, reason))
    referenced_after = {blob for _, blob in needed}
    committing = set(Upload.objects.exclude(digest="").values_list("digest", flat=True))
    for pk, (digest, size, created) in blobs.items():
        if pk in linked_after or pk in referenced_after or created >= plan.cutoff or digest in committing:
            continue
        where = "its last repository link goes in this run" if pk in removed_links else "held by no repository"
        plan.blobs.append(Garbage("blob", pk, None, digest, size, f"{where}, and no manifest references it"))
    # Names last, for people (a repository created meanwhile has one too).
    names = dict(Repository.objects.values_list("pk", "name"))
    plan.manifests = [replace(g, repository=names.get(g.repository_id, "")) for g in plan.manifests]
    plan.links = [replace(g, repository=names.get(g.repository_id, "")) for g in plan.links]
    return plan


# --- sweep ----------------------------------------------------------------------------------


def _by_repository(items: list[Garbage]) -> dict[int, list[Garbage]]:
    grouped: dict[int, list[Garbage]] = defaultdict(list)
    for item in items:
        grouped[item.repository_id].append(item)
    return grouped


def _lock_if_exists(repository_id: int) -> bool:
    """Lock the repository; False if it was deleted meanwhile (with all it held)."""
    try:
        lock_repository(repository_id)
    except Repository.DoesNotExist:
        return False
    return True


def _sweep_manifests(plan: GcPlan, report: GcReport, progress: Progress) -> None:
    done = 0
    for repository, items in _by_repository(plan.manifests).items():
        for batch in _chunks(items):
            with transaction.atomic():
                if not _lock_if_exists(repository):
                    report.kept_on_recheck += len(batch)
                    continue
                # The repository's graph as it is now, under the lock that tag moves and
                # manifest pushes take: a tag or an index added since the plan keeps its manifests.
                kept = _kept(
                    _manifest_rows(repository_id=repository),
                    set(Tag.objects.filter(repository_id=repository).values_list("manifest_id", flat=True)),
                    _children(manifest__repository_id=repository),
                    plan.cutoff,
                )
                deleted = set(Manifest.objects.filter(
                    pk__in=[g.pk for g in batch if g.pk not in kept], repository_id=repository,
                ).values_list("pk", flat=True))
                Manifest.objects.filter(pk__in=deleted).delete()
            for g in batch:
                if g.pk in deleted:
                    logger.info("gc delete manifest repository=%s digest=%s reason=%s", g.repository, g.digest, g.reason)
            report.manifests_deleted += len(deleted)
            report.kept_on_recheck += len(batch) - len(deleted)
            done += len(batch)
            progress("manifests", done, len(plan.manifests))


def _sweep_links(plan: GcPlan, report: GcReport, progress: Progress) -> None:
    done = 0
    for repository, items in _by_repository(plan.links).items():
        for batch in _chunks(items):
            with transaction.atomic():
                if not _lock_if_exists(repository):
                    report.kept_on_recheck += len(batch)
                    continue
                referenced = ManifestReference.objects.filter(
                    manifest__repository_id=repository, blob__isnull=False
                ).values("blob_id")
                # Locked as selected: on PostgreSQL a link refreshed by a push meanwhile is
                # read again at its new age (and kept) instead of deleted from the old plan.
                removable = list(
                    RepositoryBlob.objects.select_for_update().filter(
                        pk__in=[g.pk for g in batch], repository_id=repository, created_at__lt=plan.cutoff
                    ).exclude(blob_id__in=referenced).values_list("pk", flat=True)
                )
                RepositoryBlob.objects.filter(pk__in=removable).delete()
            report.links_removed += len(removable)
            report.kept_on_recheck += len(batch) - len(removable)
            done += len(batch)
            progress("links", done, len(plan.links))


def _sweep_blobs(plan: GcPlan, report: GcReport, progress: Progress) -> None:
    storage = get_storage()
    done = 0
    for batch in _chunks(plan.blobs):
        with transaction.atomic():
            # Lock the rows first, then look at links and references in a new statement
            # (PostgreSQL: a link being added waits for us, or we see it).
            locked = list(Blob.objects.select_for_update().filter(pk__in=[g.pk for g in batch]).values_list("pk", flat=True))
            doomed = list(
                Blob.objects.filter(pk__in=locked, created_at__lt=plan.cutoff)
                .annotate(
                    linked=Exists(RepositoryBlob.objects.filter(blob_id=OuterRef("pk"))),
                    referenced=Exists(ManifestReference.objects.filter(blob_id=OuterRef("pk"))),
                    committing=Exists(Upload.objects.filter(digest=OuterRef("digest"))),
                )
                .filter(linked=False, referenced=False, committing=False)
                .values_list("pk", "digest", "size")
            )
            Blob.objects.filter(pk__in=[pk for pk, _, _ in doomed]).delete()
            # Files go inside the transaction (see the module docstring). Nothing below may
            # raise: a rollback now would bring back rows whose files are already gone.
            for _, digest, size in doomed:
                try:
                    storage.delete(digest)
                except BlobNotFound:
                    pass
                except Exception:
                    logger.exception("gc could not delete the file of %s; fsck --repair removes it", digest)
                    report.files_left.append(digest)
        for _, digest, size in doomed:
            logger.info("gc delete blob digest=%s size=%d", digest, size)
        report.blobs_deleted += len(doomed)
        report.bytes_freed += sum(size for _, _, size in doomed)
        report.kept_on_recheck += len(batch) - len(doomed)
        done += len(batch)
        progress("blobs", done, len(plan.blobs))


def blob_file_discard(*, digest: str) -> bool:
    """Delete the file of `digest` unless a row or a committing session claims it, checked
    and deleted in one transaction as in phase 3; True if nothing claimed it.

    For files that never got their row (fsck's orphans, an upload refused after its file
    was moved into place). PostgreSQL: with no row to lock, a session announcing the same
    digest concurrently is not serialized with this; run fsck --repair in a quiet hour there.
    """
    with transaction.atomic():
        if Blob.objects.filter(digest=digest).exists() or Upload.objects.filter(digest=digest).exists():
            return False
        try:
            get_storage().delete(digest)
        except BlobNotFound:
            pass
    return True


def gc_run(
    *,
    dry_run: bool = False,
    delete_untagged: bool = False,
    grace_period: timedelta | None = None,
    progress: Progress | None = None,
) -> GcReport:
    """Plan, then (unless `dry_run`) sweep; logs one summary line."""
    started = time.monotonic()
    progress = progress or (lambda phase, done, total: None)
    plan = gc_plan(delete_untagged=delete_untagged, grace_period=grace_period)
    report = GcReport(dry_run=dry_run, plan=plan)
    if dry_run:
        report.manifests_deleted, report.links_removed = len(plan.manifests), len(plan.links)
        report.blobs_deleted, report.bytes_freed = len(plan.blobs), plan.bytes
    else:
        _sweep_manifests(plan, report, progress)
        _sweep_links(plan, report, progress)
        _sweep_blobs(plan, report, progress)
    logger.info(
        "gc %s manifests=%d links=%d blobs=%d bytes=%d kept_on_recheck=%d files_left=%d duration_ms=%d",
        "dry-run" if dry_run else "done", report.manifests_deleted, report.links_removed,
        report.blobs_deleted, report.bytes_freed, report.kept_on_recheck, len(report.files_left),
        (time.monotonic() - started) * 1000,
    )
    return report
