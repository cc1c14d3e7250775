"""Whether this instance can serve: its database and its blob storage (readiness for
/readyz and the management API's health)."""
from __future__ import annotations

import logging

from django.db import DEFAULT_DB_ALIAS, connections

from storage_backends import get_storage

logger = logging.getLogger(__name__)


def _check_database() -> None:
    """Read a table migrate made, on a connection of its own: `SELECT 1` also succeeds on
    an empty or replaced SQLite file, and this worker's kept-alive connection may still
    hold the old file open while every new connection sees the new one."""
    probe = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
            if cursor.fetchone() is None:
                raise LookupError("no migrations recorded")
    finally:
        probe.close()


def readiness_checks() -> dict[str, str]:
    """{"database": ..., "storage": ...}, each "ok" or what is wrong (no exception text:
    the answer is public)."""
    checks = {}
    try:
        _check_database()
        checks["database"] = "ok"
    except Exception as exc:
        # One line without a traceback: a load balancer polls this every few seconds.
        logger.error("readiness: database not usable: %s: %s", type(exc).__name__, exc)
        checks["database"] = "unreachable"
    try:
        get_storage().check()
        checks["storage"] = "ok"
    except Exception as exc:
        logger.error("readiness: storage not writable: %s: %s", type(exc).__name__, exc)
        checks["storage"] = "not writable"
    return checks
