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
from .daemons import Dockerd, running_dockerd
from .support import LiveRegistry, ServerLog, stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
STARTUP_TIMEOUT = 30
# Password of the `admin` superuser the first migrate creates.
ADMIN_PASSWORD = "admin-e2e-password"
# Fixtures whose servers' logs are checked and reported per test, with a label.
SERVER_FIXTURES = {
    "live_registry": "gunicorn", "secured_registry": "gunicorn", "anonymous_pull_registry": "gunicorn",
    "dockerd": "dockerd", "upstream_registry": "gunicorn", "proxy_registry": "gunicorn", "mirror_dockerd": "dockerd",
    # tests/e2e/test_s3.py and test_two_instances.py (a pair of servers).
    "s3_registry": "gunicorn", "instances": "gunicorn",
    # tests/e2e/test_azure.py.
    "azure_registry": "gunicorn", "azure_instances": "gunicorn",
    # tests/e2e/test_replication*.py: the registry replicating, and a remote instance.
    "replication_here": "gunicorn", "replication_other": "gunicorn", "distribution": "distribution",
}
# gunicorn's access-log line ends with `"<request line>" <status> <bytes> …`.
SERVER_ERROR_RE = re.compile(r'HTTP/1\.[01]" 5\d\d ')
# gunicorn's warning when the app puts a body on a HEAD, 204 or 304 answer.
BODY_ON_NO_BODY_RE = re.compile(r"body bytes on a no-body response")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(data_dir: Path, auth: bool | None, admin_password: str | None = ADMIN_PASSWORD) -> dict[str, str]:
    """`auth` None and `admin_password` None leave those settings unset: the defaults."""
    # Settings come only from here: a REGISTRY_* or DATABASE_URL in the caller's
    # environment (the Makefile exports REGISTRY_BIND) must not change what is tested.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_") and k != "DATABASE_URL"}
    if auth is not None:
        env["REGISTRY_AUTH_ENABLED"] = "true" if auth else "false"
    if admin_password is not None:
        env["REGISTRY_ADMIN_PASSWORD"] = admin_password
    env.update(
        DJANGO_SETTINGS_MODULE="registry_project.settings",
        REGISTRY_DATA_DIR=str(data_dir),
        REGISTRY_WORKERS="2",
        REGISTRY_LOG_LEVEL="INFO",
        # Plain lines, and gunicorn's access log: the log checks below read both.
        REGISTRY_LOG_FORMAT="plain",
        REGISTRY_ACCESS_LOG="-",
        # Every client of every test comes from 127.0.0.1, and several tests try a wrong
        # password on purpose: the per-address login throttle would otherwise lock out the
        # rest of the session (tests/auth checks the throttle itself).
        REGISTRY_LOGIN_MAX_FAILURES="1000",
        REGISTRY_LOGIN_MAX_FAILURES_PER_ADDRESS="1000",
        REGISTRY_LOGIN_MAX_FAILURES_PER_USER="1000",
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


@contextlib.contextmanager
def _running_registry(
    root: Path, auth: bool | None, admin_password: str | None = ADMIN_PASSWORD, *,
    sqlite: bool = False, run_as: dict | None = None, **extra_env: str,
):
    """migrate, then gunicorn, as `make run` and the systemd unit start it. Both write to
    one log file, appended to when the same `root` starts again (a restart).

    The database: SQLite in the data directory, or when the suite runs on PostgreSQL a
    database of its own (unless `sqlite`, or DATABASE_URL is given). `run_as`: Popen's
    user/group/extra_groups/umask for both, to run them as a service user the way
    deploy/registry.service does."""
    data_dir = root / "data"
    env = {**_server_env(data_dir, auth, admin_password), **extra_env}
    if "DATABASE_URL" not in env and not sqlite and databases.postgres_enabled():
        env["DATABASE_URL"] = databases.database_url(root)
    run_as = run_as or {}
    root.mkdir(parents=True, exist_ok=True)
    log = ServerLog(root / "gunicorn.log")
    with log.path.open("ab") as log_file:
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, timeout=120, **run_as,
        )
    if migrate.returncode != 0:
        pytest.fail(f"manage.py migrate failed:\n{log.read()}")
    port = _free_port()
    if auth is False:
        credentials = None
    else:  # on, also by default; the first migrate wrote a random password if none was given
        credentials = ("admin", admin_password or (data_dir / "admin.password").read_text().strip())
    registry = LiveRegistry(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", data_dir, log, env, credentials)
    with log.path.open("ab") as log_file:
        proc = subprocess.Popen(
            [str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "registry_project.wsgi:application"],
            cwd=REPO_ROOT, env={**env, "REGISTRY_BIND": registry.host},
            stdout=log_file, stderr=subprocess.STDOUT, **run_as,
        )
    registry.pid = proc.pid
    try:
        _wait_until_ready(proc, registry)
        yield registry
    finally:
        stop_process(proc)


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


@pytest.fixture(scope="module")
def dockerd() -> Dockerd:
    """A private docker engine (and its containerd) for the module (tests/e2e/daemons.py)."""
    with running_dockerd() as daemon:
        yield daemon


# The proxy server reads its proxies and groups afresh on every request, so what a test
# configures through `manage.py shell` applies at once (REGISTRY_PROXY_CONFIG_TTL).
PROXY_ENV = {"REGISTRY_PROXY_CONFIG_TTL": "0", "REGISTRY_MIRROR_PROXY": "hub", "REGISTRY_PROXY_TIMEOUT": "10"}


def configure_proxy(registry: LiveRegistry, name: str, upstream: LiveRegistry, **fields) -> None:
    """Make `name` a proxy of `upstream` on `registry` (as staff would in the admin), public."""
    options = {"library_default": True, "manifest_ttl": 3600, **fields}
    registry.manage("shell", "-c", (
        "from registry_api.models import Namespace, ProxyNamespace\n"
        f"ProxyNamespace.objects.update_or_create(name={name!r}, defaults=dict(upstream_url={upstream.base_url!r}, "
        f"**{options!r}))\n"
        f"Namespace.objects.update_or_create(name={name!r}, defaults=dict(public=True))\n"
    ))


@pytest.fixture(scope="session")
def upstream_registry(tmp_path_factory) -> LiveRegistry:
    """A second registry standing in for Docker Hub: token auth on, `library` public, so
    the proxy in front of it goes through the Bearer challenge and token endpoint."""
    with _running_registry(tmp_path_factory.mktemp("upstream"), auth=True) as registry:
        registry.manage("shell", "-c", (
            "from registry_api.models import Namespace\n"
            "Namespace.objects.get_or_create(name='library', defaults={'public': True})\n"
        ))
        yield registry


@pytest.fixture(scope="session")
def proxy_registry(tmp_path_factory, upstream_registry) -> LiveRegistry:
    """The registry under test, as installed (access control on), with proxy `hub` of the
    upstream, which is also the transparent mirror (REGISTRY_MIRROR_PROXY=hub)."""
    with _running_registry(tmp_path_factory.mktemp("proxy"), auth=True, **PROXY_ENV) as registry:
        configure_proxy(registry, "hub", upstream_registry)
        yield registry


@pytest.fixture
def start_registry(tmp_path_factory):
    """Start another registry within a test: `with start_registry("label") as r:`; it
    stops (by its Popen handle) when the block ends."""

    def start(label: str, auth: bool = True, **env: str):
        return _running_registry(tmp_path_factory.mktemp(label), auth, **env)

    return start


@pytest.fixture(scope="session")
def anonymous_pull_registry(tmp_path_factory) -> LiveRegistry:
    """Access control on with REGISTRY_ANONYMOUS_PULL=true: anyone may pull everything."""
    with _running_registry(tmp_path_factory.mktemp("anonymous-pull"), auth=True,
                           REGISTRY_ANONYMOUS_PULL="true") as registry:
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
