"""The loop of a command run as a service (deliver_webhooks --loop, replicate): one round
every few seconds until SIGTERM or SIGINT, which let the round in hand finish (systemd and
docker stop with SIGTERM, then the command exits 0)."""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from django.db import DatabaseError, close_old_connections

logger = logging.getLogger(__name__)


def service_loop(round_: Callable[[threading.Event], None], *, interval: float, what: str) -> None:
    """Call `round_(stop)` every `interval` seconds until stopped; `stop` is set on a signal,
    for a round that wants to end early between its steps."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        try:
            round_(stop)
        except DatabaseError as exc:
            # Not migrated yet (a container started beside the registry's), or the database
            # restarting: try again next round rather than crash-looping.
            logger.warning("%s not checked: %s: %s", what, type(exc).__name__, exc)
        close_old_connections()  # a long-lived process: do not keep a broken connection
        stop.wait(interval)
