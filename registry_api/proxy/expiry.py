"""Proxy cache expiry (`manage.py proxy_expire`): forget what nobody pulled for a while.

For each proxy with `expire_after_days` set, in each of its cache repositories, under the
repository lock:
  * a tag is deleted when neither pulled (Tag.last_pulled_at) nor fetched or moved
    (Tag.updated_at) within that many days;
  * a manifest is deleted when no remaining tag points at it, it was neither pulled
    (Manifest.last_pulled_at) nor cached within those days, and no kept index lists it
    and no kept manifest is its subject.
Blobs are not pulled on their own but for a manifest, so they follow their manifests: the
next garbage collection unlinks and deletes the blobs no remaining manifest references
(the housekeeping timer runs `proxy_expire` before `gc`). The next pull fetches again.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..db.locking import lock_repository
from ..models import Manifest, ManifestReference, ProxyNamespace, Repository, Tag

logger = logging.getLogger(__name__)


@dataclass
class ExpiryReport:
    dry_run: bool
    tags: list[str] = field(default_factory=list)  # "<repository>:<tag>"
    manifests: list[str] = field(default_factory=list)  # "<repository>@<digest>"


def _kept_manifests(repository_id: int, kept: set[int], rows: list[tuple[int, str, str]]) -> set[int]:
    """`kept` and, transitively, the children of kept indexes and referrers of kept manifests."""
    by_digest = {digest: pk for pk, digest, _ in rows}
    referrers = defaultdict(list)
    for pk, _, subject in rows:
        if subject:
            referrers[subject].append(pk)
    children = defaultdict(list)
    references = ManifestReference.objects.filter(manifest__repository_id=repository_id).exclude(child_digest="")
    for manifest_id, child in references.values_list("manifest_id", "child_digest"):
        children[manifest_id].append(child)
    digest_of = {pk: digest for pk, digest, _ in rows}
    stack = list(kept)
    while stack:
        pk = stack.pop()
        reached = [by_digest.get(c) for c in children[pk]] + referrers[digest_of[pk]]
        for other in reached:
            if other is not None and other not in kept:
                kept.add(other)
                stack.append(other)
    return kept


def _expire_repository(repository: tuple[int, str], cutoff: datetime, report: ExpiryReport) -> None:
    repository_id, name = repository
    with transaction.atomic():
        lock_repository(repository_id)
        tags = Tag.objects.filter(repository_id=repository_id).annotate(seen=Coalesce("last_pulled_at", "updated_at"))
        stale_tags = list(tags.filter(seen__lt=cutoff).values_list("pk", "name"))
        tagged = set(tags.filter(seen__gte=cutoff).values_list("manifest_id", flat=True))
        manifests = Manifest.objects.filter(repository_id=repository_id).annotate(
            seen=Coalesce("last_pulled_at", "created_at"))
        rows = list(manifests.values_list("pk", "digest", "subject_digest"))
        recent = set(manifests.filter(seen__gte=cutoff).values_list("pk", flat=True))
        kept = _kept_manifests(repository_id, tagged | recent, rows)
        doomed = [(pk, digest) for pk, digest, _ in rows if pk not in kept]
        if not report.dry_run:
            Tag.objects.filter(pk__in=[pk for pk, _ in stale_tags]).delete()
            Manifest.objects.filter(pk__in=[pk for pk, _ in doomed]).delete()
    report.tags += [f"{name}:{tag}" for _, tag in stale_tags]
    report.manifests += [f"{name}@{digest}" for _, digest in doomed]


def proxy_expire(*, dry_run: bool = False, now: datetime | None = None) -> ExpiryReport:
    """Apply every proxy's `expire_after_days` (module docstring); logs one summary line."""
    now = now or timezone.now()
    report = ExpiryReport(dry_run=dry_run)
    for proxy in ProxyNamespace.objects.filter(expire_after_days__isnull=False):
        cutoff = now - timedelta(days=proxy.expire_after_days)
        for repository in Repository.objects.filter(name__startswith=f"{proxy.name}/").values_list("pk", "name"):
            _expire_repository(repository, cutoff, report)
    for line in report.tags + report.manifests:
        logger.info("proxy expire%s %s", " dry-run" if dry_run else "", line)
    logger.info("proxy expire%s tags=%d manifests=%d", " dry-run" if dry_run else "",
                len(report.tags), len(report.manifests))
    return report
