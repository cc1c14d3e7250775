"""`manage.py restore SRC`: install a backup onto an empty data directory, then check it
with fsck (services/backup.py; docs/operations.md "Backup and recovery"). Run it before the registry
starts; `migrate` (run by registry.service on start) then upgrades an older backup."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry_api.lib.units import format_bytes
from registry_api.management.progress import ProgressBar
from registry_api.services.backup import BackupError, backup_restore
from registry_api.services.fsck import fsck_run


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` onto this empty registry, then fsck it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", type=Path)

    def handle(self, *args, source: Path, **options) -> None:
        progress = ProgressBar(self.stdout)
        try:
            report = backup_restore(source=source, progress=progress)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored the database and {report.blobs} blob(s), {format_bytes(report.bytes)}")
        if report.sessions_dropped:
            self.stdout.write(f"dropped {report.sessions_dropped} upload session(s) in progress at backup time "
                              "(their staged bytes are not in a backup; clients push those blobs again)")
        check = fsck_run(progress=progress)
        if check.problems:
            raise CommandError(f"fsck found {len(check.problems)} problem(s); run `manage.py fsck` for the list")
        self.stdout.write(f"fsck: {check.blobs_checked} blob(s) verified, no problems")
