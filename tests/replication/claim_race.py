"""One replication worker claiming jobs, for test_concurrent_claims.py:
`python -m tests.replication.claim_race fill N` queues N jobs; `... claim GO` says READY,
waits for the file GO (so every worker starts at once), then claims, holds for a moment
and finishes jobs until none is left and prints the ids it got."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import django

django.setup()

from replication.models import Job, Remote, Rule  # noqa: E402  (after setup)
from replication.queue import job_claim, job_enqueue, job_finish  # noqa: E402


def fill(count: int) -> None:
    remote = Remote.objects.create(name="race", upstream_url="http://127.0.0.1:9", max_concurrent=100)
    rule = Rule.objects.create(name="race", remote=remote, repositories="team/**")
    for i in range(count):
        job_enqueue(rule=rule, kind=Job.Kind.COPY, trigger=Job.Trigger.EVENT, repository="team/app",
                    reference=f"v{i}")


def claim(go: Path) -> None:
    print("READY", flush=True)
    while not go.exists():
        time.sleep(0.01)
    got = []
    while (job := job_claim()) is not None:
        got.append(job.pk)
        time.sleep(0.02)  # a job takes time: the others start claiming while this one runs
        job_finish(job, succeeded=True)
    print("RESULT " + json.dumps(got))


if __name__ == "__main__":
    fill(int(sys.argv[2])) if sys.argv[1] == "fill" else claim(Path(sys.argv[2]))
