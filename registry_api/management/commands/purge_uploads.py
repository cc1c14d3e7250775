"""`manage.py purge_uploads [--older-than 24h] [--dry-run]`: drop abandoned upload sessions
and their staged bytes (run daily by deploy/registry-housekeeping.timer)."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from registry_api.lib.units import format_bytes, parse_duration
from registry_api.services.upload_purge import upload_purge


class Command(BaseCommand):
    help = "Remove upload sessions idle for longer than --older-than, and staging areas without a session."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", type=parse_duration, default=None,
                            help="e.g. 24h, 3d; default REGISTRY_UPLOAD_PURGE_AGE")
        parser.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")

    def handle(self, *args, older_than: timedelta | None, dry_run: bool, verbosity: int, **options) -> None:
        older_than = older_than or timedelta(seconds=settings.REGISTRY_UPLOAD_PURGE_AGE)
        report = upload_purge(older_than=older_than, dry_run=dry_run)
        if dry_run or verbosity >= 2:
            for upload_id in report.sessions:
                self.stdout.write(f"session {upload_id}")
            for upload_id in report.orphans:
                self.stdout.write(f"orphan staging area {upload_id}")
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(
            f"{verb} {len(report.sessions)} session(s) and {len(report.orphans)} orphan staging area(s): "
            f"{format_bytes(report.bytes)} ({report.bytes} bytes)"
        )
