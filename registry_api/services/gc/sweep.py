"""The sweep of garbage collection: delete a plan's items, each re-checked in the
transaction (and, for links, the statement) that deletes it; see the package docstring."""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef

from storage_backends import get_storage
from storage_backends.base import BlobNotFound

from ...db.locking import lock_digests, lock_name, lock_repository
from ...edge import metrics
from ...models import Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag, Upload
from .. import backup_lease
from .plan import Garbage, GcPlan, child_digests, gc_plan, kept_manifests, manifest_rows, restrict_to_preview

logger = logging.getLogger(__name__)

# Rows deleted per transaction: short write locks, few commits. Blob batches hold one
# digest lock per blob (PostgreSQL's lock table is shared), so they are smaller.
BATCH = 200
BLOB_BATCH = 100

Progress = Callable[[str, int, int], None]


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
    # Blob candidates left for a later run because a backup was copying blobs, and why.
    blobs_deferred: int = 0
    deferred_because: str = ""


def _chunks(items: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


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
            deleted: set[int] = set()
            with transaction.atomic():
                if _lock_if_exists(repository):
                    # The repository's graph as it is now, under the lock that tag moves and
                    # manifest pushes take: a tag or an index added since the plan keeps its manifests.
                    kept = kept_manifests(
                        manifest_rows(repository_id=repository),
                        set(Tag.objects.filter(repository_id=repository).values_list("manifest_id", flat=True)),
                        child_digests(manifest__repository_id=repository),
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
            removed = 0
            with transaction.atomic():
                if _lock_if_exists(repository):
                    referenced = ManifestReference.objects.filter(
                        manifest__repository_id=repository, blob__isnull=False
                    ).values("blob_id")
                    # The conditions go into the locking SELECT and again into the DELETE: a
                    # push restarting a link's age locks its row without the repository lock
                    # (blob_register), so it either committed first (the row no longer
                    # matches) or waits for us and then finds the link gone.
                    removable = RepositoryBlob.objects.filter(
                        pk__in=[g.pk for g in batch], repository_id=repository, created_at__lt=plan.cutoff
                    ).exclude(blob_id__in=referenced)
                    locked = list(removable.select_for_update(of=("self",)).values_list("pk", flat=True))
                    removed, _ = removable.filter(pk__in=locked).delete()
            report.links_removed += removed
            report.kept_on_recheck += len(batch) - removed
            done += len(batch)
            progress("links", done, len(plan.links))


def _delete_blob_batch(plan: GcPlan, batch: list[Garbage], report: GcReport) -> list[tuple[int, str, int]]:
    """One transaction: the digest locks, then the rows, re-checked; rows and files go."""
    lock_digests([g.digest for g in batch])
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
    # Files go inside the transaction, under the digest locks (package docstring). Nothing
    # below may raise: a rollback now would bring back rows whose files are already gone.
    storage = get_storage()
    for _, digest, _ in doomed:
        try:
            storage.delete(digest)
        except BlobNotFound:
            pass
        except Exception:
            logger.exception("gc could not delete the file of %s; fsck --repair removes it", digest)
            report.files_left.append(digest)
    return doomed


def _sweep_blobs(plan: GcPlan, report: GcReport, progress: Progress) -> None:
    done = 0
    for batch in _chunks(plan.blobs, BLOB_BATCH):
        with transaction.atomic():
            lock_name(backup_lease.LOCK)
            lease = backup_lease.backup_lease_active()
            if lease is None:
                doomed = _delete_blob_batch(plan, batch, report)
        if lease is not None:
            report.blobs_deferred = len(plan.blobs) - done
            report.deferred_because = f"a {lease} is copying blobs"
            logger.warning("gc leaves %d blob(s) for a later run: %s", report.blobs_deferred, report.deferred_because)
            return
        for _, digest, size in doomed:
            logger.info("gc delete blob digest=%s size=%d", digest, size)
        report.blobs_deleted += len(doomed)
        report.bytes_freed += sum(size for _, _, size in doomed)
        report.kept_on_recheck += len(batch) - len(doomed)
        done += len(batch)
        progress("blobs", done, len(plan.blobs))


def gc_run(
    *,
    dry_run: bool = False,
    delete_untagged: bool = False,
    grace_period: timedelta | None = None,
    progress: Progress | None = None,
    previewed: str | None = None,
) -> GcReport:
    """Plan, then (unless `dry_run`) sweep; logs one summary line.

    `previewed` (a `gc_plan_token` of an earlier plan): delete only what that plan listed
    and this one still finds unreachable by the same rules; GcPreviewExpired if it is stale.
    """
    started = time.monotonic()
    progress = progress or (lambda phase, done, total: None)
    plan = gc_plan(delete_untagged=delete_untagged, grace_period=grace_period)
    if previewed is not None:
        plan = restrict_to_preview(plan, previewed)
    report = GcReport(dry_run=dry_run, plan=plan)
    if dry_run:
        report.manifests_deleted, report.links_removed = len(plan.manifests), len(plan.links)
        report.blobs_deleted, report.bytes_freed = len(plan.blobs), plan.bytes
    else:
        _sweep_manifests(plan, report, progress)
        _sweep_links(plan, report, progress)
        _sweep_blobs(plan, report, progress)
    logger.info(
        "gc %s manifests=%d links=%d blobs=%d bytes=%d kept_on_recheck=%d files_left=%d blobs_deferred=%d "
        "duration_ms=%d",
        "dry-run" if dry_run else "done", report.manifests_deleted, report.links_removed,
        report.blobs_deleted, report.bytes_freed, report.kept_on_recheck, len(report.files_left),
        report.blobs_deferred, (time.monotonic() - started) * 1000,
    )
    metrics.record_gc_run(report, seconds=time.monotonic() - started)
    return report
