"""A one-line progress bar for housekeeping commands, drawn only when stdout is a terminal
(under systemd or cron the output is a log, and a bar would fill it with carriage returns)."""
from __future__ import annotations

from django.core.management.base import OutputWrapper

WIDTH = 30


class ProgressBar:
    """Called by services as `progress(phase, done, total)`."""

    def __init__(self, stdout: OutputWrapper) -> None:
        self.stdout = stdout
        self.enabled = stdout.isatty()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = WIDTH * done // total
        line = f"\r{phase:<10} [{'#' * filled}{' ' * (WIDTH - filled)}] {done}/{total}"
        self.stdout.write(line, ending="\n" if done >= total else "")
        self.stdout.flush()
