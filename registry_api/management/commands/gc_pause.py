"""`manage.py gc_pause -- COMMAND [ARG…]`: run COMMAND while garbage collection deletes no
blob, by holding the backup lease (services/backup_lease.py) with its heartbeat.

For backups the `backup` command cannot take (PostgreSQL): `pg_dump` first, then a copy of
`blobs/`, both inside one gc_pause, so every blob the dump references is still there when
it is copied (docs/operations.md "Backup and recovery"). Exits with COMMAND's status.
"""
from __future__ import annotations

import argparse
import subprocess
import time

from django.core.management.base import BaseCommand, CommandError

from registry_api.services.backup_lease import backup_lease

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Run a command (e.g. pg_dump, then a copy of blobs/) while garbage collection deletes no blob."

    def add_arguments(self, parser) -> None:
        parser.add_argument("argv", nargs=argparse.REMAINDER, help="the command to run, after --")

    def handle(self, *args, argv: list[str], **options) -> None:
        argv = argv[1:] if argv[:1] == ["--"] else argv
        if not argv:
            raise CommandError("give the command to run after --, e.g. gc_pause -- sh -c 'pg_dump … && rsync …'")
        with backup_lease(destination=f"gc_pause: {' '.join(argv)}") as lease:
            process = subprocess.Popen(argv)
            while process.poll() is None:
                time.sleep(POLL_SECONDS)
                lease.beat()
        if process.returncode:
            raise CommandError(f"{argv[0]} exited with status {process.returncode}", returncode=process.returncode)
        self.stdout.write(f"{argv[0]} finished; garbage collection may delete blobs again")
