"""The job queue: claims, the per-remote limit, retries with backoff, coalescing, the schedule."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from replication.models import Job, Remote, Rule
from replication.queue import job_claim, job_enqueue, job_finish
from replication.triggers import schedule_due

pytestmark = pytest.mark.django_db


def copy_job(rule: Rule, reference: str = "v1", **fields) -> Job:
    return job_enqueue(rule=rule, kind=Job.Kind.COPY, trigger=Job.Trigger.EVENT, repository="team/app",
                       reference=reference, **fields)


def test_a_claimed_job_is_running_and_no_one_elses(rule):
    job = copy_job(rule)
    claimed = job_claim()
    assert claimed.pk == job.pk and claimed.status == Job.Status.RUNNING
    assert claimed.claimed_until > timezone.now()
    assert job_claim() is None


def test_a_burst_of_pushes_of_one_tag_is_one_job(rule):
    assert copy_job(rule).pk == copy_job(rule).pk
    assert copy_job(rule, "v2").pk != copy_job(rule).pk


def test_the_remote_runs_no_more_jobs_at_once_than_it_allows(rule):
    copy_job(rule, "v1")
    copy_job(rule, "v2")
    other = Rule.objects.create(name="to-c", repositories="team/**",
                                remote=Remote.objects.create(name="site-c", upstream_url="http://127.0.0.1:9"))
    elsewhere = copy_job(other)
    first = job_claim()
    assert first.rule == rule
    assert job_claim().pk == elsewhere.pk  # site-b is at its limit of one; site-c is not
    assert job_claim() is None
    job_finish(first, succeeded=True)
    assert job_claim().reference == "v2"


def test_a_crashed_workers_claim_lapses(rule):
    copy_job(rule)
    job = job_claim()
    Job.objects.filter(pk=job.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert job_claim().pk == job.pk


def test_a_failed_job_comes_back_after_a_doubling_backoff_then_fails_for_good(rule, settings):
    settings.REGISTRY_REPLICATION_BACKOFF_SECONDS = 30
    settings.REGISTRY_REPLICATION_MAX_ATTEMPTS = 3
    job = copy_job(rule)
    for attempt, backoff in ((1, 30), (2, 60)):
        job_finish(job, succeeded=False, error="remote unreachable")
        job.refresh_from_db()
        assert job.status == Job.Status.PENDING and job.attempts == attempt
        wait = (job.next_attempt_at - timezone.now()).total_seconds()
        assert backoff - 2 < wait <= backoff
        assert job_claim() is None  # not due yet
    job_finish(job, succeeded=False, error="remote unreachable")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.last_error == "remote unreachable"


def test_disabled_rules_jobs_wait(rule):
    copy_job(rule)
    Rule.objects.filter(pk=rule.pk).update(enabled=False)
    assert job_claim() is None


def test_the_schedule_queues_a_full_pass_once_per_interval(rule):
    rule.interval_minutes = 10
    rule.save()
    now = timezone.now()
    assert schedule_due(now) == 1
    assert schedule_due(now + timedelta(minutes=5)) == 0
    assert schedule_due(now + timedelta(minutes=11)) == 1
    assert Job.objects.filter(rule=rule, kind=Job.Kind.SYNC, trigger=Job.Trigger.SCHEDULE).count() == 1  # coalesced
