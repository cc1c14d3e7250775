"""`make bench-directory`: what directory sign-in costs when docker asks for a token before
every push and pull (docs/directory.md, "Caching").

A private slapd (tests/slapd.py, logging one line per operation) and our registry with
access control on and REGISTRY_LDAP_* pointing at it. Each case sends BENCH_DIRECTORY_REQUESTS
token requests (GET /auth/token with Basic, as `docker pull` does), from 1 and from 8
clients at once, and prints requests/s, p50/p99, and how many binds of that user slapd saw:
  local     a local account (not a superuser, as the directory user): never the directory;
  cached    a directory user, REGISTRY_LDAP_CACHE_SECONDS at its default (60);
  uncached  a directory user, REGISTRY_LDAP_CACHE_SECONDS=0: a bind per request.
"""
from __future__ import annotations

import base64
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import servers  # noqa: E402
from tests import slapd  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_DIRECTORY_REQUESTS", "1000"))
SCOPE = "repository:team/app:pull"


def _token_request(port: int, user: str, password: str) -> float:
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    query = urllib.parse.urlencode({"service": "docker-registry-manager", "scope": SCOPE})
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # a new connection, as docker's
    try:
        conn.request("GET", f"/auth/token?{query}", headers={"Authorization": f"Basic {basic}"})
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise SystemExit(f"token request for {user} answered {response.status}")
    return time.perf_counter() - start


def _run(port: int, user: str, password: str, clients: int) -> tuple[float, list[float]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = list(pool.map(lambda _: _token_request(port, user, password), range(REQUESTS)))
    return REQUESTS / (time.perf_counter() - start), times


def _binds(directory: slapd.Slapd, user: str) -> int:
    return directory.log().count(f'BIND dn="{slapd.user_dn(user)}" method=')


def _case(name: str, directory: slapd.Slapd, user: str, password: str, **env: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-directory-") as data:
        server = servers.start_ours(Path(data), REGISTRY_AUTH_ENABLED="true", **env, **{
            key: str(value) for key, value in directory.settings().items()})
        try:
            if name == "local":
                subprocess.run(
                    [servers.PYTHON, "manage.py", "shell", "-c",
                     f"from django.contrib.auth.models import User; User.objects.create_user({user!r}, password={password!r})"],
                    cwd=ROOT, env={**os.environ, "REGISTRY_DATA_DIR": data}, check=True, capture_output=True,
                )
            _token_request(server.port, user, password)  # the user row exists; the first bind
            for clients in (1, 8):
                before = _binds(directory, user)
                rate, times = _run(server.port, user, password, clients)
                quantiles = statistics.quantiles(times, n=100)
                print(f"{name:<9} c={clients:<2} {rate:8.0f} req/s  p50 {quantiles[49] * 1000:6.1f} ms  "
                      f"p99 {quantiles[98] * 1000:6.1f} ms  binds {_binds(directory, user) - before}", flush=True)
        finally:
            server.stop()


def main() -> None:
    reason = slapd.missing_reason()
    if reason:
        raise SystemExit(f"slapd cannot run: {reason}")
    directory = slapd.start_slapd(log_level="256")
    try:
        print(f"{REQUESTS} token requests per line, each on a new connection; binds = slapd's BINDs of that user")
        _case("local", directory, "builder", "builder-password")
        _case("cached", directory, "alice", "alice-pw")
        _case("uncached", directory, "alice", "alice-pw", REGISTRY_LDAP_CACHE_SECONDS="0")
    finally:
        directory.remove()


if __name__ == "__main__":
    main()
