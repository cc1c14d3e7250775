"""A PostgreSQL server for the tests that need real row locks and concurrent transactions.

SQLite serializes every write transaction, so races that only PostgreSQL allows (two
transactions interleaving statement by statement) must be tested on PostgreSQL itself:

  * REGISTRY_TEST_POSTGRES_URL (e.g. ``postgres://postgres@127.0.0.1:5432/postgres``), a
    server where the tests may create databases, is used when set (CI with a service);
  * otherwise a private cluster is created under /tmp from ``/usr/lib/postgresql/*/bin``
    (as the ``postgres`` user when the tests run as root: initdb refuses root), listening on
    127.0.0.1 at a free port with its socket in its own directory, and stopped through its
    own data directory (``pg_ctl stop``) when the session ends;
  * with neither, the tests skip, unless REGISTRY_E2E_REQUIRE_TOOLS=1 (CI), where they fail.

One server per test session (tests needing it carry ``xdist_group("postgres")`` so they run
on one worker); the registry's migrations run once, into a template database, and every
test gets a fresh copy of it (`new_database`), which takes a fraction of a second.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = "registry_template"
TIMEOUT = 120


def tools_required() -> bool:
    return os.environ.get("REGISTRY_E2E_REQUIRE_TOOLS") == "1"


def unavailable(reason: str):
    """Skip, or fail where CI says every tool must be there."""
    if tools_required():
        pytest.fail(f"PostgreSQL is required (REGISTRY_E2E_REQUIRE_TOOLS=1) but {reason}")
    pytest.skip(f"no PostgreSQL: {reason}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_cluster_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresServer:
    """A server reachable at `base_url` where we create databases; the URL's database name
    (if any) is replaced, and its query (e.g. `?host=<socket directory>`) is kept."""

    base_url: str
    admin_database: str = "postgres"
    _created: list[str] = field(default_factory=list)

    def url(self, database: str) -> str:
        return urlunsplit(urlsplit(self.base_url)._replace(path=f"/{database}"))

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(self.admin_database), autocommit=True) as conn:
            conn.execute(sql)

    def migrate_template(self) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        self.execute(f'CREATE DATABASE "{TEMPLATE}"')
        data_dir = tempfile.mkdtemp(prefix="registry-pg-migrate-")
        try:
            result = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO_ROOT,
                env={**clean_env(), "DATABASE_URL": self.url(TEMPLATE), "REGISTRY_DATA_DIR": data_dir,
                     "REGISTRY_LOG_LEVEL": "WARNING"},
                capture_output=True, text=True, timeout=TIMEOUT,
            )
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        if result.returncode != 0:
            raise RuntimeError(f"migrate into the template database failed:\n{result.stdout}\n{result.stderr}")
        self._created.append(TEMPLATE)

    def new_database(self) -> str:
        """A fresh, migrated database; returns its DATABASE_URL."""
        name = f"registry_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        self._created.append(name)
        return self.url(name)

    def drop_created(self) -> None:
        for name in reversed(self._created):
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()


def clean_env() -> dict[str, str]:
    """The caller's environment without registry settings, which must not leak into tests."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_") and k != "DATABASE_URL"}


class PrivateCluster:
    """initdb + pg_ctl start in a temporary directory; `stop` stops exactly this cluster."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="registry-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.started = False

    def _run(self, *args: str) -> None:
        result = subprocess.run(_as_cluster_user([str(a) for a in args]), capture_output=True, text=True,
                                timeout=TIMEOUT)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(self.bindir / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-o", options,
                  "-w", "-t", "60", "start")
        self.started = True
        return PostgresServer(f"postgres://postgres@127.0.0.1:{self.port}")

    def stop(self) -> None:
        try:
            if self.started:
                self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def find_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None
