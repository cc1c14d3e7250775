"""Retention policies: which tags to delete, and deleting them (`manage.py retention`).

A policy (models.RetentionPolicy) applies to one repository or to every repository of a
namespace; a repository's own enabled policies replace its namespace's. Within a policy,
only tags whose whole name matches `tag_pattern` are considered, newest push first
(`Tag.updated_at`, which a push that moves the tag renews). A considered tag is kept when
any rule of the policy keeps it:
  * `keep_last`: it is among the N most recently pushed considered tags;
  * `keep_pushed_days`: it was pushed within D days;
  * `keep_pulled_days`: it was pulled within D days (`Tag.last_pulled_at`); a tag never
    pulled counts as pulled when it was pushed, so a tag pushed a minute ago is not expired.
A tag is deleted when some policy considers it and keeps it not, and no other policy of
the repository keeps it (keeping wins).

Deleting a tag frees what only it reached: in the same transaction, under the repository
lock, the manifests that a tag reached before and none reaches after (the image, an
index's children, their referrers) are deleted, unless pushed within the grace period (a
push may be about to name them). Manifests that no tag reached before are left alone:
something pushed by digest on purpose is not retention's to judge (`gc --delete-untagged`
is). Plain `gc`, as the housekeeping timer runs it, then frees their blobs.
"""
from __future__ import annotations

import logging
import re
from contextlib import nullcontext
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .. import events
from ..db.locking import lock_repository
from ..models import Manifest, Repository, RetentionPolicy, Tag
from .gc import grace_cutoff, reachable_manifests
from .gc.plan import child_digests, manifest_rows
from .quotas import namespace_of

logger = logging.getLogger(__name__)

# Tags deleted per transaction.
BATCH = 200


@dataclass(frozen=True)
class RetentionDecision:
    """A tag a policy selects for deletion, and why."""

    repository: str
    repository_id: int
    tag: str
    tag_id: int
    digest: str
    pushed_at: datetime
    pulled_at: datetime | None
    rule: str
    # Digests of the manifests that went with the tag (only it reached them).
    manifests: tuple[str, ...] = ()


def _age(now: datetime, when: datetime | None) -> str:
    if when is None:
        return "never"
    days = (now - when).days
    return "today" if days == 0 else f"{days} day(s) ago"


def _verdict(policy: RetentionPolicy, rank: int, tag: dict, now: datetime) -> str | None:
    """None if the policy keeps the tag, else why it selects it."""
    if policy.keep_last is not None and rank < policy.keep_last:
        return None
    if policy.keep_pushed_days is not None and tag["updated_at"] >= now - timedelta(days=policy.keep_pushed_days):
        return None
    pulled = tag["last_pulled_at"]
    if policy.keep_pulled_days is not None and (pulled or tag["updated_at"]) >= now - timedelta(days=policy.keep_pulled_days):
        return None  # never pulled: as if pulled when pushed
    reasons = []
    if policy.keep_last is not None:
        reasons.append(f"not among the {policy.keep_last} newest matching tags")
    if policy.keep_pushed_days is not None:
        reasons.append(f"pushed {_age(now, tag['updated_at'])} (keeps {policy.keep_pushed_days} days)")
    if policy.keep_pulled_days is not None:
        when = f"pulled {_age(now, pulled)}" if pulled else f"never pulled since its push {_age(now, tag['updated_at'])}"
        reasons.append(f"{when} (keeps {policy.keep_pulled_days} days)")
    return f"policy #{policy.pk} [{policy}]: " + "; ".join(reasons)


def _policies_by_repository() -> dict[int, list[RetentionPolicy]]:
    enabled = RetentionPolicy.objects.filter(enabled=True).select_related("namespace")
    own: dict[int, list[RetentionPolicy]] = defaultdict(list)
    by_namespace: dict[str, list[RetentionPolicy]] = defaultdict(list)
    for policy in enabled:
        if policy.repository_id is not None:
            own[policy.repository_id].append(policy)
        else:
            by_namespace[policy.namespace.name].append(policy)
    applicable = dict(own)
    if by_namespace:
        for pk, name in Repository.objects.values_list("pk", "name"):
            if pk not in own and namespace_of(name) in by_namespace:
                applicable[pk] = by_namespace[namespace_of(name)]
    return applicable


def retention_plan(*, now: datetime | None = None) -> list[RetentionDecision]:
    """Every tag the enabled policies select for deletion now, by repository and tag name."""
    now = now or timezone.now()
    decisions = []
    for repository_id, policies in sorted(_policies_by_repository().items()):
        tags = list(
            Tag.objects.filter(repository_id=repository_id)
            .order_by("-updated_at", "-pk")
            .values("pk", "name", "updated_at", "last_pulled_at", "manifest__digest", "repository__name")
        )
        selected: dict[int, str] = {}
        kept: set[int] = set()
        for policy in policies:
            pattern = re.compile(policy.tag_pattern)
            considered = [t for t in tags if pattern.fullmatch(t["name"])]
            for rank, tag in enumerate(considered):
                reason = _verdict(policy, rank, tag, now)
                if reason is None:
                    kept.add(tag["pk"])
                else:
                    selected.setdefault(tag["pk"], reason)
        for tag in sorted((t for t in tags if t["pk"] in selected and t["pk"] not in kept), key=lambda t: t["name"]):
            decisions.append(RetentionDecision(
                tag["repository__name"], repository_id, tag["name"], tag["pk"], tag["manifest__digest"],
                tag["updated_at"], tag["last_pulled_at"], selected[tag["pk"]],
            ))
    return decisions


class _Graph:
    """One repository's manifests and tags, to tell what deleting a tag leaves unreachable."""

    def __init__(self, repository_id: int) -> None:
        self.rows = manifest_rows(repository_id=repository_id)
        self.children = child_digests(manifest__repository_id=repository_id)
        self.tags = dict(Tag.objects.filter(repository_id=repository_id).values_list("pk", "manifest_id"))
        cutoff = grace_cutoff()
        self.young = {r.pk for r in self.rows if r.created_at >= cutoff}
        self.digests = {r.pk: r.digest for r in self.rows}
        self.reached = self._reach()

    def _reach(self) -> set[int]:
        return reachable_manifests(self.rows, set(self.tags.values()) | self.young, self.children)

    def untag(self, tag_id: int) -> set[int]:
        """Forget the tag; the manifests only it reached (and that are not young)."""
        self.tags.pop(tag_id, None)
        before, self.reached = self.reached, self._reach()
        return before - self.reached


def _apply(repository_id: int, decisions: list[RetentionDecision], dry_run: bool) -> list[RetentionDecision]:
    """Delete the repository's selected tags and what only they reached, in one transaction."""
    done = []
    with nullcontext() if dry_run else transaction.atomic():
        if not dry_run:
            lock_repository(repository_id)
        graph = _Graph(repository_id)
        for decision in decisions:
            if not dry_run and not Tag.objects.filter(
                pk=decision.tag_id, manifest__digest=decision.digest, updated_at=decision.pushed_at
            ).delete()[0]:
                continue  # pushed again or deleted since the plan: newer than the plan knew
            freed = graph.untag(decision.tag_id)
            if freed and not dry_run:
                Manifest.objects.filter(pk__in=freed, repository_id=repository_id).delete()
            done.append(replace(decision, manifests=tuple(sorted(graph.digests[pk] for pk in freed))))
    return done


def _record(decision: RetentionDecision) -> None:
    logger.info("retention delete repository=%s tag=%s digest=%s manifests=%d rule=%s",
                decision.repository, decision.tag, decision.digest, len(decision.manifests), decision.rule)
    events.record(action="delete", repository=decision.repository, target=decision.tag, actor="retention",
                  detail={"kind": "tag", "digest": decision.digest, "rule": decision.rule})
    for digest in decision.manifests:
        events.record(action="delete", repository=decision.repository, target=digest, actor="retention",
                      detail={"kind": "manifest", "digest": digest, "rule": f"only tag {decision.tag} reached it"})


def retention_apply(*, dry_run: bool = False) -> list[RetentionDecision]:
    """Delete what `retention_plan` selects, with the manifests only those tags reached
    (nothing with `dry_run`, which says what would go); returns what went.

    Each tag is deleted under the repository lock only if it still points where it did
    when planned: a tag pushed again meanwhile is newer than the plan knew, and stays.
    """
    by_repository: dict[int, list[RetentionDecision]] = defaultdict(list)
    for decision in retention_plan():
        by_repository[decision.repository_id].append(decision)
    deleted = []
    for repository_id, decisions in by_repository.items():
        for start in range(0, len(decisions), BATCH):
            done = _apply(repository_id, decisions[start:start + BATCH], dry_run)
            if not dry_run:
                for decision in done:
                    _record(decision)
            deleted += done
    if not dry_run:
        logger.info("retention done tags=%d manifests=%d", len(deleted), sum(len(d.manifests) for d in deleted))
    return deleted
