"""deploy/gunicorn.conf.py as it runs: sendfile, slow uploads outliving the worker timeout,
metrics summed over workers, one log format, and readiness of the database it serves.

Each test starts its own server (`_running_registry`) when it changes settings or breaks
something on purpose, so the shared `live_registry` stays clean for the others.
"""
from __future__ import annotations

import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from gunicorn.config import Config
from gunicorn.workers.ggevent import GeventWorker

from tests import builders
from tests.builders import sha256

from .conftest import REPO_ROOT, _running_registry
from .support import send, skopeo_push

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def _gunicorn_config() -> Config:
    """deploy/gunicorn.conf.py loaded the way gunicorn loads it (the names it knows), under
    the current environment; callers patch os.environ around it."""
    path = REPO_ROOT / "deploy" / "gunicorn.conf.py"
    namespace: dict = {"__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    config = Config()
    for key, value in namespace.items():
        if key in config.settings:
            config.set(key, value)
    return config


def _access_log_enabled(config: Config) -> bool:
    """What the configured logger class decides, without its setup() reconfiguring this
    process's logging."""
    logger = config.logger_class.__new__(config.logger_class)
    logger.cfg = config
    return logger._compute_access_log_enabled()


def test_config_sends_files_with_sendfile_from_gevent_workers():
    with mock.patch.dict(os.environ, {"REGISTRY_LOG_FORMAT": "json", "REGISTRY_ACCESS_LOG": "off", "SENDFILE": "0"}):
        config = _gunicorn_config()
        assert config.sendfile is True  # pinned on, whatever the environment said
    # A connection is a greenlet: thousands per worker, and each one a descriptor, so
    # loading the config raised the soft open-files limit to the hard one (systemd's soft
    # default is 1,024), here in this process as in gunicorn's master.
    assert issubclass(config.worker_class, GeventWorker) and config.worker_connections >= 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard or (hard == resource.RLIM_INFINITY and soft >= 1 << 20)
    assert config.logconfig_dict["loggers"]["gunicorn.error"]["handlers"] == ["stderr"]
    assert config.logconfig_dict["loggers"]["gunicorn.access"]["handlers"] == []  # access log off
    with mock.patch.dict(os.environ, {"REGISTRY_LOG_FORMAT": "plain", "REGISTRY_ACCESS_LOG": "-"}):
        plain = _gunicorn_config()
    assert plain.logconfig_dict == {} and plain.accesslog == "-"
    # Heartbeats on tmpfs where there is one (the disk's journal stays out of it).
    assert config.worker_tmp_dir == ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    # No access log asked for: gunicorn does not build per-request log atoms to drop them.
    assert _access_log_enabled(config) is False
    with mock.patch.dict(os.environ, {"REGISTRY_LOG_FORMAT": "json", "REGISTRY_ACCESS_LOG": "-"}):
        assert _access_log_enabled(_gunicorn_config()) is True
    # Why the file does not say `sendfile = True`: gunicorn reads any value as "off".
    trap = Config()
    trap.set("sendfile", True)
    assert trap.sendfile is False


# Loads the config as gunicorn's master does, then lets 8 threads allocate at once and
# prints how many malloc arenas (glibc's malloc_info <heap> entries) the process has.
_ARENAS_SCRIPT = """
import ctypes, ctypes.util, os, sys, tempfile, threading
path = sys.argv[1]
exec(compile(open(path).read(), path, "exec"), {"__file__": path})
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
barrier = threading.Barrier(9)
def allocate():
    libc.malloc(4096)
    barrier.wait()
    barrier.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads:
    t.start()
barrier.wait()
with tempfile.NamedTemporaryFile("r") as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(out.read().count("<heap nr="))
barrier.wait()
"""


def _arenas_with_eight_threads(**env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    done = subprocess.run([sys.executable, "-c", _ARENAS_SCRIPT, str(REPO_ROOT / "deploy" / "gunicorn.conf.py")],
                          env=environment, capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_workers_share_two_malloc_arenas_unless_the_environment_says_otherwise():
    assert _arenas_with_eight_threads() == 2
    assert _arenas_with_eight_threads(REGISTRY_MALLOC_ARENAS="4") == 4
    assert _arenas_with_eight_threads(MALLOC_ARENA_MAX="6") == 6  # glibc's own variable wins


def _readiness(registry) -> tuple[int, dict]:
    response = registry.request("GET", "/readyz")
    return response.status, response.json()


def test_not_ready_once_the_database_file_is_replaced(tmp_path):
    """A restore gone wrong or a deleted file: `SELECT 1` on a kept-alive connection still
    answers from the old file; every new connection would find an empty database."""
    with _running_registry(tmp_path / "registry", auth=False, sqlite=True) as registry:  # the SQLite file itself
        assert _readiness(registry) == (200, {"status": "ok", "database": "ok", "storage": "ok"})
        database = registry.data_dir / "registry.sqlite3"
        kept = database.with_name("kept.sqlite3")
        database.rename(kept)
        database.write_bytes(b"")
        try:
            for _ in range(4):  # whichever worker answers, with or without a kept connection
                status, body = _readiness(registry)
                assert (status, body["database"]) == (503, "unreachable")
            assert registry.request("HEAD", "/readyz").status == 503
        finally:
            kept.replace(database)
        assert _readiness(registry)[0] == 200
        assert "readiness: database not usable" in registry.log.read()


def test_a_slow_upload_outlives_the_worker_timeout(tmp_path):
    """gthread: the worker's main loop notifies the arbiter while a request thread waits for
    a slow body, so the timeout (5 s here) never kills a push that takes longer (12 s)."""
    pieces = [os.urandom(64 * 1024) for _ in range(24)]
    data = b"".join(pieces)
    with _running_registry(tmp_path / "registry", auth=False, REGISTRY_WORKER_TIMEOUT="5") as registry:
        started = registry.request("POST", "/v2/slow/app/blobs/uploads/")
        assert started.status == 202
        conn = registry.connection()
        conn.timeout = 60
        try:
            conn.putrequest("PATCH", started.headers["Location"])
            conn.putheader("Transfer-Encoding", "chunked")
            conn.putheader("Content-Type", "application/octet-stream")
            conn.endheaders()
            began = time.monotonic()
            for piece in pieces:
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                time.sleep(0.5)
            conn.send(b"0\r\n\r\n")
            patched = conn.getresponse()
            patched.read()
            assert time.monotonic() - began > 12
            assert patched.status == 202 and patched.getheader("Range") == f"0-{len(data) - 1}"
            done = send(conn, "PUT", f"{patched.getheader('Location')}?digest={sha256(data)}", b"")
            assert done.status == 201, done.body
        finally:
            conn.close()
        assert registry.request("GET", f"/v2/slow/app/blobs/{sha256(data)}").body == data
        log = registry.log.read()
        assert "WORKER TIMEOUT" not in log
        assert log.count("Booting worker") == 2  # none was killed and replaced


def _counts_by_worker(directory: Path, route: str) -> dict[str, float]:
    """registry_http_requests_total{route=…} in each worker's multiprocess file."""
    from prometheus_client.mmap_dict import MmapedDict

    counts = {}
    for path in directory.glob("counter_*.db"):
        values = MmapedDict(str(path), read_mode=True).read_all_values()
        total = sum(value for key, value, *_ in values
                    if json.loads(key)[1] == "registry_http_requests_total" and json.loads(key)[2].get("route") == route)
        if total:
            counts[path.stem.split("_", 1)[1]] = total
    return counts


def _metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_sum_over_workers_and_show_gc_from_another_process(tmp_path):
    images = [builders.image(f"metrics-{i}", layer_count=1) for i in range(4)]
    with _running_registry(tmp_path / "registry", auth=False) as registry:
        for i, image in enumerate(images):
            layout = builders.image_layout(tmp_path / f"src{i}", "v1", image)
            skopeo_push(f"oci:{layout}:v1", f"docker://{registry.host}/metrics/app{i}:v1")
        # New connections until both workers have answered some (the kernel picks the worker).
        multiproc = registry.data_dir / "prometheus"
        sent = 0
        while len(_counts_by_worker(multiproc, "catalog")) < 2 and sent < 400:
            assert registry.request("GET", "/v2/_catalog").status == 200
            sent += 1
        per_worker = _counts_by_worker(multiproc, "catalog")
        assert len(per_worker) == 2, f"one worker answered all {sent} requests"
        text = registry.request("GET", "/metrics").body.decode()
        assert _metric(text, "registry_http_requests_total", 'method="GET",route="catalog",status="200"') == sent
        assert sum(per_worker.values()) == sent
        assert _metric(text, "registry_http_requests_total", 'method="PUT",route="manifest",status="201"') == 4
        assert _metric(text, "registry_tags") == 4

        digest = images[0].manifest.digest
        assert registry.request("DELETE", f"/v2/metrics/app0/manifests/{digest}").status == 202
        registry.manage("gc", "--grace-period", "0s")  # a process of its own, as the timer runs it
        text = registry.request("GET", "/metrics").body.decode()
        assert _metric(text, "registry_gc_runs_total") == 1
        assert _metric(text, "registry_gc_deleted_blobs_total") == 2  # the layer and the config
        assert _metric(text, "registry_gc_freed_bytes_total") == sum(len(b.data) for b in images[0].blobs)


def test_json_logging_puts_every_line_in_json(tmp_path):
    """One stream, one format: gunicorn's boot and shutdown lines too, and its access log
    when asked for. Access control on, as installed: an open registry's migrate prints a
    system-check warning (plain text, from Django's check framework) into the same log."""
    with _running_registry(tmp_path / "registry", auth=True, REGISTRY_LOG_FORMAT="json",
                           REGISTRY_ACCESS_LOG="-") as registry:
        registry.push_blob("logs/app", b"a layer")
        registry.request("GET", "/v2/_catalog")
    lines = [line for line in registry.log.read().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    loggers = {entry["logger"] for entry in entries}
    assert {"gunicorn.error", "gunicorn.access", "registry.request"} <= loggers
    requests = [e for e in entries if e["logger"] == "registry.request"]
    assert {e["action"] for e in requests} >= {"upload", "catalog"}
    assert all({"request_id", "bytes_in", "bytes_out", "duration_ms", "status"} <= set(e) for e in requests)
