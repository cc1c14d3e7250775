"""`manage.py deliver_webhooks [--loop]`: send due webhook deliveries (retries included).

The serving processes send first attempts in the background. This sends every retry,
whichever process queued it: those a restart interrupted, and those of commands that have
exited (retention). Run it with --loop as a service (deploy/registry-webhooks.service, the
`webhooks` service of deploy/compose.yaml); without, it sends what is due once.
"""
from __future__ import annotations

import logging
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from registry_api.events.webhooks import deliver_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Send webhook deliveries whose time has come."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep running, checking every few seconds")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between checks with --loop")

    def handle(self, *args, loop: bool, interval: float, **options) -> None:
        if not loop:
            self.stdout.write(f"{deliver_due()} delivery attempt(s) made")
            return
        stop = threading.Event()
        # systemd and docker stop with SIGTERM: finish the attempt in hand, then exit 0.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.is_set():
            try:
                sent = deliver_due()
            except DatabaseError as exc:
                # Not migrated yet (a container started beside the registry's), or the
                # database restarting: try again next round rather than crash-looping.
                logger.warning("webhook deliveries not checked: %s: %s", type(exc).__name__, exc)
                sent = 0
            if sent:
                self.stdout.write(f"{sent} delivery attempt(s) made")
                self.stdout.flush()
            close_old_connections()  # a long-lived process: do not keep a broken connection
            stop.wait(interval)
