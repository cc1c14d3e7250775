"""`manage.py deliver_webhooks [--loop]`: send due webhook deliveries (retries included).

The serving processes send deliveries in the background; this picks up what a restart
interrupted. Run it from the housekeeping timer, or with --loop as a small service.
"""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from registry_api.events.webhooks import deliver_due


class Command(BaseCommand):
    help = "Send webhook deliveries whose time has come."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep running, checking every few seconds")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between checks with --loop")

    def handle(self, *args, loop: bool, interval: float, **options) -> None:
        while True:
            sent = deliver_due()
            if sent or not loop:
                self.stdout.write(f"{sent} delivery attempt(s) made")
            if not loop:
                return
            time.sleep(interval)
