"""The metadata database of each live server: SQLite in its data directory, or, when the
suite runs on PostgreSQL, a fresh PostgreSQL database of its own.

REGISTRY_TEST_POSTGRES_URL (test-only; `.ci/run` sets it) names a database on a server where
the test user may CREATE DATABASE. Each data directory gets one database named after it, so a
server restarted over the same directory finds its rows again, and the two xdist workers
(their directories differ) never share one. They are dropped when the worker's session ends.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ADMIN_URL = os.environ.get("REGISTRY_TEST_POSTGRES_URL", "")
_created: list[str] = []


def postgres_enabled() -> bool:
    return bool(ADMIN_URL)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_url(root: Path) -> str | None:
    """The DATABASE_URL for a server over `root`, created on first use; None = SQLite."""
    if not ADMIN_URL:
        return None
    import psycopg
    from psycopg import sql

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"e2e_{worker}_{hashlib.sha256(str(root).encode()).hexdigest()[:16]}"
    if name not in _created:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        _created.append(name)
    return _with_database(ADMIN_URL, name)


def drop_databases() -> None:
    if not _created:
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        while _created:
            name = _created.pop()
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
