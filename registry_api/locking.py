"""Row locks written once: tag moves and garbage-collection re-checks lock the repository.

On PostgreSQL this is `SELECT … FOR NO KEY UPDATE`: lock holders exclude each other, but
rows that merely reference the repository (an upload, a blob link, a manifest of another
request) can still be inserted meanwhile. A plain FOR UPDATE would also block those
inserts' foreign-key checks, and lock cycles with garbage collection became deadlocks.
On SQLite the IMMEDIATE transaction mode already serializes writers, and
`select_for_update` is a no-op there.
"""
from __future__ import annotations

from django.db import transaction

from .models import Repository


def lock_repository(repository_id: int) -> Repository:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_repository must be called inside transaction.atomic()")
    return Repository.objects.select_for_update(no_key=True).get(pk=repository_id)
