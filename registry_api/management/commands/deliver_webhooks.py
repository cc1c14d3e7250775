"""`manage.py deliver_webhooks [--loop]`: send due webhook deliveries (retries included).

The serving processes send first attempts in the background. This sends every retry,
whichever process queued it: those a restart interrupted, and those of commands that have
exited (retention). Run it with --loop as a service (deploy/registry-webhooks.service, the
`webhooks` service of deploy/compose.yaml); without, it sends what is due once.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand

from registry_api.events.webhooks import deliver_due
from registry_api.management.loop import service_loop


class Command(BaseCommand):
    help = "Send webhook deliveries whose time has come."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep running, checking every few seconds")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between checks with --loop")

    def handle(self, *args, loop: bool, interval: float, **options) -> None:
        if not loop:
            self.stdout.write(f"{deliver_due()} delivery attempt(s) made")
            return
        service_loop(self._round, interval=interval, what="webhook deliveries")

    def _round(self, stop) -> None:
        if sent := deliver_due():
            self.stdout.write(f"{sent} delivery attempt(s) made")
            self.stdout.flush()
