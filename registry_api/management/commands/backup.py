"""`manage.py backup DEST`: a consistent copy of the database and every blob it references,
taken while the registry serves (services/backup.py; docs/operations.md "Backup and recovery")."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry_api.lib.units import format_bytes
from registry_api.management.progress import ProgressBar
from registry_api.services.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the SQLite database and the blobs it references into DEST (absent or empty)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("destination", type=Path)

    def handle(self, *args, destination: Path, **options) -> None:
        try:
            report = backup_create(destination=destination, progress=ProgressBar(self.stdout))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        for digest in report.dropped:
            self.stdout.write(f"left out {digest}: no manifest references it and its file was gone")
        self.stdout.write(f"backed up {report.blobs} blob(s), {format_bytes(report.bytes)}, and the database to {destination}")
