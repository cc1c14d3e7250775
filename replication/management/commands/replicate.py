"""`manage.py replicate [--once]`: the replication worker.

Queues each rule's scheduled full pass when due, then claims and runs jobs until none is
due; with --once it then exits, else it looks again every --interval seconds (events
queue jobs at once, so a push waits at most that long). Run it as a service
(deploy/registry-replication.service, the `replication` service of deploy/compose.yaml).
"""
from __future__ import annotations

import logging
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from replication.queue import job_claim
from replication.runner import job_run
from replication.triggers import schedule_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run replication jobs: once, or as a long-running worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="run what is due now, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks at the queue")

    def handle(self, *args, once: bool, interval: float, **options) -> None:
        stop = threading.Event()
        if not once:
            # systemd and docker stop with SIGTERM: finish the job in hand, then exit 0.
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        while not stop.is_set():
            try:
                ran = self._drain(stop)
            except DatabaseError as exc:
                # Not migrated yet, or the database restarting: try again next round.
                logger.warning("replication queue not read: %s: %s", type(exc).__name__, exc)
                ran = 0
            if once:
                self.stdout.write(f"{ran} replication job(s) run")
                return
            close_old_connections()
            stop.wait(interval)

    def _drain(self, stop: threading.Event) -> int:
        schedule_due()
        ran = 0
        while not stop.is_set() and (job := job_claim()) is not None:
            run = job_run(job)
            ran += 1
            self.stdout.write(f"job {job.pk} ({job}): {'ok' if run.succeeded else 'failed'}")
            self.stdout.flush()
        return ran
