"""`manage.py fsck [--repair] [--quick]`: check that every blob row has its file, of the
right size and digest, and find files without rows (services/fsck.py says what --repair does).
Exits with status 1 while problems remain, for monitoring."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from registry_api.lib.units import format_bytes, parse_duration
from registry_api.management.progress import ProgressBar
from registry_api.services.fsck import fsck_run


class Command(BaseCommand):
    help = "Check blob files against the database; --repair removes orphan files and unreferenced rows without files."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--repair", action="store_true",
                            help="delete orphan files, and rows whose file is missing when no manifest references them")
        parser.add_argument("--quick", action="store_true", help="compare sizes only, do not hash the files")
        parser.add_argument("--grace-period", type=parse_duration, default=None,
                            help="files younger than this are not orphans yet; default REGISTRY_GC_GRACE_PERIOD")

    def handle(self, *args, repair: bool, quick: bool, grace_period, **options) -> None:
        report = fsck_run(repair=repair, verify_digests=not quick, grace_period=grace_period,
                          progress=ProgressBar(self.stdout))
        for problem in report.problems:
            outcome = f" -> {problem.repaired}" if problem.repaired else ""
            self.stdout.write(f"{problem.kind}: {problem.digest}: {problem.detail}{outcome}")
        self.stdout.write(
            f"checked {report.blobs_checked} blob(s), {format_bytes(report.bytes_checked)}"
            f"{'' if quick else ', digests verified'}: {len(report.problems)} problem(s), "
            f"{len(report.problems) - len(report.unrepaired)} repaired"
        )
        if report.unrepaired:
            raise CommandError(f"{len(report.unrepaired)} problem(s) remain")
