"""The job queue, in the database: enqueue, claim, finish or retry with backoff.

A job is claimed in one short transaction. On PostgreSQL the candidate rows are read
`FOR UPDATE SKIP LOCKED`, so workers never wait on each other's choice; on SQLite the
IMMEDIATE transaction mode (settings.py) already serializes the transaction, and the
claim is a conditional UPDATE either way, so a row is only ever one worker's. A claim
lasts REGISTRY_REPLICATION_CLAIM_SECONDS and is renewed between artifacts; a crashed
worker's job is taken again once it lapses. At most `Remote.max_concurrent` jobs of one
remote run at once.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from .models import Job, Rule

Status = Job.Status


def job_enqueue(*, rule: Rule, kind: str, trigger: str, repository: str = "", reference: str = "") -> Job:
    """Queue a job, or return the same one already waiting (a burst of pushes of one tag
    is one copy: the job reads what the tag names when it runs)."""
    waiting = Job.objects.filter(rule=rule, kind=kind, repository=repository, reference=reference,
                                 status=Status.PENDING, attempts=0).first()
    if waiting is not None:
        return waiting
    return Job.objects.create(rule=rule, kind=kind, trigger=trigger, repository=repository, reference=reference,
                              next_attempt_at=timezone.now())


def _busy_remotes(now) -> set[int]:
    """Remotes already running as many jobs as they allow."""
    running = (Job.objects.filter(status=Status.RUNNING, claimed_until__gt=now)
               .values("rule__remote_id", "rule__remote__max_concurrent").annotate(n=Count("id")))
    return {row["rule__remote_id"] for row in running if row["n"] >= row["rule__remote__max_concurrent"]}


def job_claim() -> Job | None:
    """The next due job no other worker holds, now ours; None when there is none."""
    now = timezone.now()
    due = Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(status=Status.RUNNING, claimed_until__lte=now)
    with transaction.atomic():
        candidates = (Job.objects.select_for_update(skip_locked=True, of=("self",))
                      .filter(due, rule__enabled=True).exclude(rule__remote_id__in=_busy_remotes(now))
                      .order_by("next_attempt_at", "id")[:1])
        for job in candidates:
            claimed = Job.objects.filter(pk=job.pk, status=job.status, claimed_until=job.claimed_until).update(
                status=Status.RUNNING, claimed_until=now + timedelta(seconds=settings.REGISTRY_REPLICATION_CLAIM_SECONDS),
            )
            if claimed:
                job.refresh_from_db()
                return job
    return None


def job_renew(job: Job) -> None:
    """Keep the claim while the job is still making progress."""
    until = timezone.now() + timedelta(seconds=settings.REGISTRY_REPLICATION_CLAIM_SECONDS)
    Job.objects.filter(pk=job.pk, status=Status.RUNNING).update(claimed_until=until)


def job_finish(job: Job, *, succeeded: bool, error: str = "") -> None:
    """Done, or back in the queue after REGISTRY_REPLICATION_BACKOFF_SECONDS * 2**(attempts-1),
    or failed for good after REGISTRY_REPLICATION_MAX_ATTEMPTS."""
    job.attempts += 1
    job.claimed_until = None
    job.last_error = error[:500]
    now = timezone.now()
    if succeeded:
        job.status, job.finished_at = Status.DONE, now
    elif job.attempts >= settings.REGISTRY_REPLICATION_MAX_ATTEMPTS:
        job.status, job.finished_at = Status.FAILED, now
    else:
        job.status = Status.PENDING
        backoff = settings.REGISTRY_REPLICATION_BACKOFF_SECONDS * 2 ** (job.attempts - 1)
        job.next_attempt_at = now + timedelta(seconds=backoff)
    job.save(update_fields=["attempts", "claimed_until", "last_error", "status", "finished_at", "next_attempt_at"])
