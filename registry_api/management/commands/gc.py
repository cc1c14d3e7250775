"""`manage.py gc [--dry-run] [--delete-untagged] [--grace-period 1h]`: garbage collection,
safe while the registry serves (services/gc/ says how)."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from registry_api.lib.units import format_bytes, parse_duration
from registry_api.management.progress import ProgressBar
from registry_api.services.gc import gc_run


class Command(BaseCommand):
    help = "Delete blobs (and with --delete-untagged, manifests) that nothing reachable needs."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list what would be deleted and why; delete nothing")
        parser.add_argument("--delete-untagged", action="store_true",
                            help="also delete manifests no tag reaches (through indexes or subjects)")
        parser.add_argument("--grace-period", type=parse_duration, default=None,
                            help="leave alone what is younger than this (e.g. 30m, 2h); default REGISTRY_GC_GRACE_PERIOD")

    def handle(self, *args, dry_run: bool, delete_untagged: bool, grace_period, verbosity: int, **options) -> None:
        report = gc_run(
            dry_run=dry_run, delete_untagged=delete_untagged, grace_period=grace_period,
            progress=ProgressBar(self.stdout),
        )
        plan = report.plan
        if dry_run or verbosity >= 2:
            for item in [*plan.manifests, *plan.links, *plan.blobs]:
                where = f"{item.repository}@" if item.repository else ""
                self.stdout.write(f"{item.kind:<8} {where}{item.digest} ({format_bytes(item.size)}): {item.reason}")
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb} {report.manifests_deleted} manifest(s), {report.links_removed} repository link(s), "
            f"{report.blobs_deleted} blob(s): {format_bytes(report.bytes_freed)} ({report.bytes_freed} bytes)"
            + (f"; {report.kept_on_recheck} kept on re-check (in use again)" if report.kept_on_recheck else "")
        )
        if report.blobs_deferred:
            self.stdout.write(f"left {report.blobs_deferred} blob(s) for the next run: {report.deferred_because}")
        for digest in report.files_left:
            self.stderr.write(f"file of {digest} could not be deleted; `manage.py fsck --repair` removes it")
