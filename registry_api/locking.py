"""Row locks written once: tag moves and garbage-collection re-checks lock the repository.

On PostgreSQL this is `SELECT … FOR UPDATE`; on SQLite the IMMEDIATE transaction mode
already serializes writers, and `select_for_update` is a no-op there.
"""
from __future__ import annotations

from django.db import transaction

from .models import Repository


def lock_repository(repository_id: int) -> Repository:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_repository must be called inside transaction.atomic()")
    return Repository.objects.select_for_update().get(pk=repository_id)
