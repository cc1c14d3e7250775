"""`manage.py housekeeping [--every 24h]`: purge abandoned uploads, apply retention, collect
garbage, send interrupted webhook deliveries (services/housekeeping.py). Once, from the
systemd timer; with --every, as a long-running service (deploy/compose.yaml): a failed pass
is logged and the next one runs on time, and SIGTERM stops it between passes."""
from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta

from django.core.management.base import BaseCommand

from registry_api.lib.units import format_bytes, parse_duration
from registry_api.services import housekeeping

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "One housekeeping pass (upload purge, retention, gc, webhook deliveries), or one every --every."

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()

    def add_arguments(self, parser) -> None:
        parser.add_argument("--every", type=parse_duration, default=None,
                            help="keep running, one pass per interval (e.g. 24h), the first at once")

    def handle(self, *args, every: timedelta | None, **options) -> None:
        if every is None:
            self._report(housekeeping.housekeeping_run())
            return
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: self.stopping.set())
        try:
            while not self.stopping.is_set():
                try:
                    self._report(housekeeping.housekeeping_run())
                except Exception:
                    logger.exception("housekeeping pass failed; the next one runs in %s", every)
                self.stopping.wait(every.total_seconds())
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _report(self, report: housekeeping.HousekeepingReport) -> None:
        purge, gc = report.purge, report.gc
        manifests = sum(len(d.manifests) for d in report.retention)
        self.stdout.write(f"purge_uploads: removed {len(purge.sessions)} session(s) and {len(purge.orphans)} "
                          f"orphan staging area(s), {format_bytes(purge.bytes)}")
        self.stdout.write(f"retention: deleted {len(report.retention)} tag(s) and {manifests} manifest(s)")
        self.stdout.write(f"proxy_expire: deleted {len(report.expiry.tags)} cached tag(s) and "
                          f"{len(report.expiry.manifests)} manifest(s)")
        self.stdout.write(f"gc: deleted {gc.links_removed} repository link(s) and {gc.blobs_deleted} blob(s), "
                          f"{format_bytes(gc.bytes_freed)} freed"
                          + (f"; left {gc.blobs_deferred} blob(s): {gc.deferred_because}" if gc.blobs_deferred else ""))
        self.stdout.write(f"webhooks: {report.deliveries} delivery attempt(s)")
