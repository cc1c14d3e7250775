"""`manage.py replicate [--once]`: the replication worker.

Queues each rule's scheduled full pass when due, then claims and runs jobs until none is
due; with --once it then exits, else it looks again every --interval seconds (events
queue jobs at once, so a push waits at most that long). Run it as a service
(deploy/registry-replication.service, the `replication` service of deploy/compose.yaml).
"""
from __future__ import annotations

import threading

from django.core.management.base import BaseCommand

from registry_api.management.loop import service_loop
from replication.queue import job_claim
from replication.runner import job_run
from replication.triggers import schedule_due


class Command(BaseCommand):
    help = "Run replication jobs: once, or as a long-running worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="run what is due now, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks at the queue")

    def handle(self, *args, once: bool, interval: float, **options) -> None:
        if once:
            self.stdout.write(f"{self._drain(threading.Event())} replication job(s) run")
            return
        service_loop(self._drain, interval=interval, what="replication queue")

    def _drain(self, stop: threading.Event) -> int:
        """The scheduled passes that are due, then every due job, one after the other."""
        schedule_due()
        ran = 0
        while not stop.is_set() and (job := job_claim()) is not None:
            run = job_run(job)
            ran += 1
            self.stdout.write(f"job {job.pk} ({job}): {'ok' if run.succeeded else 'failed'}")
            self.stdout.flush()
        return ran
