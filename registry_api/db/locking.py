"""Locks written once, each valid only inside a transaction (it ends with it).

* `lock_repository`: tag moves, manifest pushes and garbage-collection re-checks lock the
  repository row. On PostgreSQL `SELECT … FOR NO KEY UPDATE`: lock holders exclude each
  other, but rows that merely reference the repository (an upload, a blob link, a manifest
  of another request) can still be inserted meanwhile; a plain FOR UPDATE would also block
  those inserts' foreign-key checks, and lock cycles with garbage collection became deadlocks.
* `lock_digest`: everything that can make a blob *file* appear or disappear under a digest
  takes this lock first: an upload announcing (and later registering) a commit, garbage
  collection deleting a row with its file, fsck repairing or re-checking, discarding a file
  nobody registered. The rule that makes file deletion safe is "delete only while holding
  the digest lock, after checking under it that no row and no upload claims the digest";
  an upload claims it under the same lock before moving its file into place.
  A file may have no row to lock yet, so on PostgreSQL this is a transaction-level
  advisory lock on a hash of the digest (`pg_advisory_xact_lock`).
* `lock_name`: the same for a fixed name (e.g. the backup lease and GC's blob sweep).

On SQLite the IMMEDIATE transaction mode (settings.py) takes the database's write lock at
BEGIN, so any two transactions are already serialized and these are no-ops; with another
transaction mode they would not be, and the lock refuses to pretend.
"""
from __future__ import annotations

import hashlib

from django.db import NotSupportedError, transaction

from ..models import Repository
from .precompiled import Precompiled


def _connection():
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("locks must be taken inside transaction.atomic(); they last until it ends")
    return connection


# Every manifest push takes it (precompiled.py says why it is compiled once).
_REPOSITORY_LOCKED = Precompiled(
    lambda pk: Repository.objects.select_for_update(no_key=True).filter(pk=pk)[:1], pk=int
)


def lock_repository(repository_id: int) -> Repository:
    """The repository row, locked; Repository.DoesNotExist if it was deleted meanwhile."""
    _connection()
    repository = _REPOSITORY_LOCKED.first(pk=repository_id)
    if repository is None:
        raise Repository.DoesNotExist(f"repository {repository_id} no longer exists")
    return repository


def _advisory_key(kind: str, name: str) -> int:
    """A signed 64-bit key; a collision only makes two unrelated names wait for each other."""
    return int.from_bytes(hashlib.sha256(f"{kind}:{name}".encode()).digest()[:8], "big", signed=True)


def _lock(kind: str, name: str) -> None:
    connection = _connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_advisory_key(kind, name)])
    elif connection.vendor == "sqlite":
        if connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") != "IMMEDIATE":
            raise NotSupportedError("SQLite needs OPTIONS transaction_mode=IMMEDIATE for these locks")
    else:
        raise NotSupportedError(f"no lock implementation for {connection.vendor}")


def lock_digest(digest: str) -> None:
    """Hold the lock of one blob digest until the transaction ends."""
    _lock("digest", digest)


def lock_digests(digests: list[str]) -> None:
    """Several digest locks, always in the same (sorted) order, so two holders never deadlock."""
    for digest in sorted(set(digests)):
        _lock("digest", digest)


def lock_name(name: str) -> None:
    """Hold a named lock (not a digest) until the transaction ends."""
    _lock("name", name)
