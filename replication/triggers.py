"""What puts jobs in the queue: the registry's own push and delete events (within
seconds), each rule's interval, and people (the admin's "replicate now").

An event becomes a job in the request that caused it, after its commit; the worker
copies it. What a rule itself wrote here (a pull) is not bounced back to the remote it
came from.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from registry_api.db.precompiled import Precompiled
from registry_api.models import AuditEvent, Manifest
from registry_api.oci.reference import is_digest_reference

from .models import Job, Rule
from .queue import job_enqueue
from .rules import repository_matches, tag_matcher

logger = logging.getLogger(__name__)


# Every push and delete asks (registry_api/db/precompiled.py says why it is compiled once).
_PUSH_RULES = Precompiled(lambda: Rule.objects.filter(enabled=True, direction=Rule.Direction.PUSH)
                          .annotate(remote_name=F("remote__name")).order_by("pk"))


def _push_rules_for(repository: str) -> list[Rule]:
    return [rule for rule in _PUSH_RULES.all() if repository_matches(repository, rule.globs)]


def _is_referrer(repository: str, digest: str) -> bool:
    return Manifest.objects.filter(repository__name=repository, digest=digest).exclude(subject_digest="").exists()


def _on_push(rule: Rule, event: AuditEvent) -> None:
    if not rule.on_push:
        return
    wanted = tag_matcher(rule.tag_filter)
    tags = [t for t in event.detail.get("tags") or [] if wanted(t)]
    for tag in tags:
        job_enqueue(rule=rule, kind=Job.Kind.COPY, trigger=Job.Trigger.EVENT, repository=event.repository,
                    reference=tag)
    digest = event.detail.get("digest", "")
    # Untagged: an index's platform (sent with its index) or a referrer (sent on its own).
    if not event.detail.get("tags") and rule.include_referrers and _is_referrer(event.repository, digest):
        job_enqueue(rule=rule, kind=Job.Kind.COPY, trigger=Job.Trigger.EVENT, repository=event.repository,
                    reference=digest)


def _on_delete(rule: Rule, event: AuditEvent) -> None:
    reference = event.target
    if not rule.replicate_deletes:
        return
    if not is_digest_reference(reference) and not tag_matcher(rule.tag_filter)(reference):
        return
    job_enqueue(rule=rule, kind=Job.Kind.DELETE, trigger=Job.Trigger.EVENT, repository=event.repository,
                reference=reference)


def on_event(sender, event: AuditEvent, **kwargs) -> None:
    """Receiver of registry_api.events.audit.committed."""
    try:
        for rule in _push_rules_for(event.repository):
            if event.actor == f"replication:{rule.remote_name}":
                continue  # pulled from that remote: it has it already
            (_on_push if event.action == AuditEvent.Action.PUSH else _on_delete)(rule, event)
    except DatabaseError as exc:  # not migrated yet; the schedule catches up later
        logger.warning("replication not queued for %s %s: %s", event.action, event.repository, exc)


def schedule_due(now=None) -> int:
    """Queue a full pass of each enabled rule whose interval has elapsed; how many."""
    now = now or timezone.now()
    queued = 0
    for rule in Rule.objects.filter(enabled=True, interval_minutes__isnull=False):
        if rule.last_scheduled_at and rule.last_scheduled_at > now - timedelta(minutes=rule.interval_minutes):
            continue
        # Only one worker queues it: the one whose update still sees the old time.
        if Rule.objects.filter(pk=rule.pk, last_scheduled_at=rule.last_scheduled_at).update(last_scheduled_at=now):
            job_enqueue(rule=rule, kind=Job.Kind.SYNC, trigger=Job.Trigger.SCHEDULE)
            queued += 1
    return queued


def replicate_now(rule: Rule, repository: str = "") -> Job:
    """By hand: a full pass of the rule (the admin's action), or of one of its source
    repositories (the portal's button), queued for the worker."""
    return job_enqueue(rule=rule, kind=Job.Kind.SYNC, trigger=Job.Trigger.MANUAL, repository=repository)
