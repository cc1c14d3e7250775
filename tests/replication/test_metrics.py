"""/metrics carries replication's figures, read from its log: runs, failures, bytes, lag."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from replication.models import Job, Run
from replication.queue import job_enqueue

pytestmark = pytest.mark.django_db


def metric(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


def test_runs_bytes_failures_and_lag_are_exported(client, rule):
    done = job_enqueue(rule=rule, kind=Job.Kind.COPY, trigger=Job.Trigger.EVENT, repository="team/app",
                       reference="v1")
    Run.objects.create(job=done, succeeded=True, artifacts_copied=3, bytes_sent=1000)
    Run.objects.create(job=done, succeeded=False, artifacts_failed=1)
    Job.objects.filter(pk=done.pk).update(created_at=timezone.now() - timedelta(minutes=2))

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert metric(text, "registry_replication_runs_total") == 2
    assert metric(text, "registry_replication_failed_runs_total") == 1
    assert metric(text, "registry_replication_bytes_total") == 1000
    assert metric(text, "registry_replication_artifacts_total") == 3
    assert metric(text, "registry_replication_artifact_failures_total") == 1
    assert 119 < metric(text, "registry_replication_lag_seconds") < 180
