"""Retention policies: which tags to delete, and deleting them (`manage.py retention`).

A policy (models.RetentionPolicy) applies to one repository or to every repository of a
namespace; a repository's own enabled policies replace its namespace's. Within a policy,
only tags whose whole name matches `tag_pattern` are considered, newest push first
(`Tag.updated_at`, which a push that moves the tag renews). A considered tag is kept when
any rule of the policy keeps it:
  * `keep_last`: it is among the N most recently pushed considered tags;
  * `keep_pushed_days`: it was pushed within D days;
  * `keep_pulled_days`: it was pulled within D days (`Tag.last_pulled_at`).
A tag is deleted when some policy considers it and keeps it not, and no other policy of
the repository keeps it (keeping wins). Deleting a tag leaves its manifest: garbage
collection with --delete-untagged reclaims it once nothing else reaches it.
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .. import events
from ..locking import lock_repository
from ..models import Repository, RetentionPolicy, Tag
from .quotas import namespace_of

logger = logging.getLogger(__name__)


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
    if policy.keep_pulled_days is not None and pulled is not None and pulled >= now - timedelta(days=policy.keep_pulled_days):
        return None
    reasons = []
    if policy.keep_last is not None:
        reasons.append(f"not among the {policy.keep_last} newest matching tags")
    if policy.keep_pushed_days is not None:
        reasons.append(f"pushed {_age(now, tag['updated_at'])} (keeps {policy.keep_pushed_days} days)")
    if policy.keep_pulled_days is not None:
        reasons.append(f"pulled {_age(now, pulled)} (keeps {policy.keep_pulled_days} days)")
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


def retention_apply(*, dry_run: bool = False) -> list[RetentionDecision]:
    """Delete what `retention_plan` selects (nothing with `dry_run`); returns what went.

    Each tag is deleted under the repository lock only if it still points where it did
    when planned: a tag pushed again meanwhile is newer than the plan knew, and stays.
    """
    plan = retention_plan()
    if dry_run:
        return plan
    deleted = []
    for decision in plan:
        with transaction.atomic():
            lock_repository(decision.repository_id)
            count, _ = Tag.objects.filter(
                pk=decision.tag_id, manifest__digest=decision.digest, updated_at=decision.pushed_at
            ).delete()
        if not count:
            continue
        deleted.append(decision)
        logger.info("retention delete repository=%s tag=%s digest=%s rule=%s",
                    decision.repository, decision.tag, decision.digest, decision.rule)
        events.record(action="delete", repository=decision.repository, target=decision.tag, actor="retention",
                      detail={"kind": "tag", "digest": decision.digest, "rule": decision.rule})
    logger.info("retention done tags=%d", len(deleted))
    return deleted
