"""The live registry for end-to-end tests: gunicorn on a free loopback port.

Each xdist worker starts its own server (session scope) over its own temporary data
directory, and stops it through its own Popen handle. After every test, the lines the
server logged meanwhile are checked for tracebacks, 5xx answers and bodies on HEAD;
when a test fails, they are added to its report.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import databases
from .support import LiveRegistry, ServerLog

REPO_ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
STARTUP_TIMEOUT = 30
# Password of the `admin` superuser the first migrate creates.
ADMIN_PASSWORD = "admin-e2e-password"
# Fixtures whose servers' logs are checked and reported per test, with a label.
SERVER_FIXTURES = {
    "live_registry": "gunicorn", "secured_registry": "gunicorn", "dockerd": "dockerd",
    # tests/e2e/test_s3.py and test_two_instances.py (a pair of servers).
    "s3_registry": "gunicorn", "instances": "gunicorn",
}
# gunicorn's access-log line ends with `"<request line>" <status> <bytes> …`.
SERVER_ERROR_RE = re.compile(r'HTTP/1\.[01]" 5\d\d ')
# gunicorn's warning when the app puts a body on a HEAD, 204 or 304 answer.
BODY_ON_NO_BODY_RE = re.compile(r"body bytes on a no-body response")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(data_dir: Path, auth: bool) -> dict[str, str]:
    # Settings come only from here: a REGISTRY_* or DATABASE_URL in the caller's
    # environment (the Makefile exports REGISTRY_BIND) must not change what is tested.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_") and k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="registry_project.settings",
        REGISTRY_DATA_DIR=str(data_dir),
        REGISTRY_AUTH_ENABLED="true" if auth else "false",
        REGISTRY_ADMIN_PASSWORD=ADMIN_PASSWORD,
        REGISTRY_WORKERS="2",
        REGISTRY_LOG_LEVEL="INFO",
        # Plain lines, and gunicorn's access log: the log checks below read both.
        REGISTRY_LOG_FORMAT="plain",
        REGISTRY_ACCESS_LOG="-",
    )
    return env


def _wait_until_ready(proc: subprocess.Popen, registry: LiveRegistry) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{registry.log.read()}")
        try:
            if registry.request("GET", "/v2/").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer GET /v2/ within {STARTUP_TIMEOUT}s:\n{registry.log.read()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _migrate(env: dict[str, str]) -> None:
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    if migrate.returncode != 0:
        pytest.fail(f"manage.py migrate failed:\n{migrate.stdout}\n{migrate.stderr}")


@contextlib.contextmanager
def _running_registry(root: Path, auth: bool, sqlite: bool = False, **extra_env: str):
    """gunicorn over `root`. Its database: SQLite in the data directory, or when the suite
    runs on PostgreSQL a database of its own (unless `sqlite`, or DATABASE_URL is given)."""
    data_dir = root / "data"
    env = {**_server_env(data_dir, auth), **extra_env}
    if "DATABASE_URL" not in env and not sqlite and databases.postgres_enabled():
        env["DATABASE_URL"] = databases.database_url(root)
    _migrate(env)
    port = _free_port()
    log = ServerLog(root / "gunicorn.log")
    registry = LiveRegistry(
        f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", data_dir, log, env,
        ("admin", ADMIN_PASSWORD) if auth else None,
    )
    with log.path.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "registry_project.wsgi:application"],
            cwd=REPO_ROOT, env={**env, "REGISTRY_BIND": registry.host},
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(proc, registry)
        yield registry
    finally:
        _stop(proc)


@pytest.fixture(scope="session", autouse=True)
def _server_databases():
    """PostgreSQL databases made for live servers go when the worker's session ends."""
    yield
    databases.drop_databases()


@pytest.fixture(scope="session")
def live_registry(tmp_path_factory) -> LiveRegistry:
    """An open registry (access control off): the protocol as real clients speak it."""
    with _running_registry(tmp_path_factory.mktemp("registry"), auth=False) as registry:
        yield registry


@pytest.fixture(scope="session")
def secured_registry(tmp_path_factory) -> LiveRegistry:
    """The registry as installed: access control on, `admin` with ADMIN_PASSWORD."""
    with _running_registry(tmp_path_factory.mktemp("secured"), auth=True) as registry:
        yield registry


@pytest.fixture(autouse=True)
def _server_logs(request):
    """Note where each server's log stood before the test; afterwards fail on a 5xx, a
    traceback or a body on a HEAD/204/304 the test caused, even if the client hid it."""
    marks = []
    for fixture, label in SERVER_FIXTURES.items():
        if fixture in request.fixturenames:
            value = request.getfixturevalue(fixture)
            for server in value if isinstance(value, tuple) else (value,):
                marks.append((label, server.log, server.log.size()))
    request.node.server_log_marks = marks
    yield
    for label, log, start in marks:
        if label != "gunicorn":
            continue
        text = log.read(start)
        if "Traceback" in text or SERVER_ERROR_RE.search(text) or BODY_ON_NO_BODY_RE.search(text):
            pytest.fail(
                "the registry answered 5xx, logged a traceback or sent a body on a no-body "
                f"response during the test:\n{text[-20000:]}"
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for label, log, start in getattr(item, "server_log_marks", []):
            report.sections.append((f"{label} log during the test", log.read(start)[-20000:]))
    return report
