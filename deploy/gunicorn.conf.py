"""gunicorn settings for the registry.

gthread workers: a layer upload or download can stream for minutes; with threads the
worker's main loop keeps answering the arbiter's heartbeat while a request streams, so
`timeout` never kills a slow multi-GB push (tests/e2e/test_gunicorn.py sends one body
over more than twice the timeout). Blob GETs go out through gunicorn's sendfile().

Two workers of 12 threads by default (`make bench`, 2 cores): threads serve the long
streams (32 simultaneous pulls and 8 pushes of 256 MiB finish with no timeout), processes
the short requests, which need the GIL: 1 worker of 16 threads answered 1,030 manifest
HEADs/s at concurrency 16 (its threads contending for one GIL, each HEAD took twice the
CPU), 2 workers of 12 threads 2,200-2,280/s. 12 threads rather than 8 let
every connection of 16 clients keep its thread (below), however unevenly the two workers
took them: 1,550-1,990 HEADs/s at concurrency 16 with 8, 2,200-2,280 with 12, and no more
memory at peak. No async worker: the blob paths are sendfile() and hashing in C, which
release the GIL already, and Django's ORM would run in threads under an event loop
anyway. Each worker costs ~57 MB of RSS.

The worker class is gthread's, with one change (registry_project/gunicorn_worker.py): a
thread that answered a request waits 5 ms for the connection's next one before handing
it back to the worker's loop, which saves the loop's wake-ups between a client's requests
(manifest HEADs/s at concurrency 1: 1,110 with plain gthread, 1,680 with it), and a new
connection goes to the worker holding the fewest (registry_project/worker_balance.py):
16 clients connecting at once split 13 to 3 as often as 8 to 8 before, and HEADs/s at
concurrency 16 followed the split (980/s at 13/3, 2,955/s at 8/8).
"""
import ctypes
import ctypes.util
import importlib
import os
import sys
from pathlib import Path

import environ

REPO_ROOT = Path(__file__).resolve().parent.parent
# The same `.env` the Django settings read, so REGISTRY_BIND there is honoured too.
environ.Env.read_env(REPO_ROOT / ".env", overwrite=False)

bind = os.environ.get("REGISTRY_BIND", "0.0.0.0:5000")
workers = int(os.environ.get("REGISTRY_WORKERS", "2"))
worker_class = "registry_project.gunicorn_worker.LingeringThreadWorker"
threads = int(os.environ.get("REGISTRY_THREADS", "12"))
# Heartbeat timeout of an idle-looking worker, not a request time limit under gthread:
# the worker's main thread notifies the arbiter every second while request threads stream.
timeout = int(os.environ.get("REGISTRY_WORKER_TIMEOUT", "120"))
# Blob bodies are FileResponses over real files: gunicorn sends them with sendfile(2),
# zero-copy from the page cache (also for 206 ranges, registry_api.http.BoundedFile).
# Careful: gunicorn's `sendfile` setting only exists to turn it off: any value given to
# it, True included, disables sendfile (gunicorn.config.Config.sendfile, gunicorn 27).
# Unset, it follows the SENDFILE environment variable, on when absent: pin that instead.
os.environ["SENDFILE"] = "1"
graceful_timeout = 30
# Each worker's heartbeat file is touched several times per request. On tmpfs, its inode
# updates stay out of the disk's journal, which every blob's fsync must otherwise commit
# with them (gunicorn's docs advise the same; ~10% more small image pushes per second
# here). Where /dev/shm is missing or read-only (a hardened sandbox), gunicorn's default.
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
    worker_tmp_dir = "/dev/shm"
keepalive = 75


def _limit_malloc_arenas(count: int) -> bool:
    """glibc gives threads malloc arenas of their own, up to 8 per core, and each keeps what
    was freed in it: with 2, 32 pulls and 8 pushes at once (bench/workloads.py) peaked at
    183 MB instead of 200 MB, no slower, as the GIL serialises most allocations anyway.
    Set in the master before any worker forks, so every worker inherits it;
    MALLOC_ARENA_MAX in the environment still wins. A no-op off glibc."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, count))
    except (OSError, AttributeError):
        return False


_M_ARENA_MAX = -8  # glibc's malloc.h
_limit_malloc_arenas(int(os.environ.get("REGISTRY_MALLOC_ARENAS", "2")))
# A manifest PUT may carry the 100 `?tag=` the app accepts, each up to 128 characters:
# about 13.5 KB of request line with the longest name and a sha512 digest. The app, not
# gunicorn, must see one tag too many, to answer with its JSON 414 (gunicorn's own answer
# is a bare text page no client can read). gunicorn clamps this limit to its
# MAX_REQUEST_LINE (8190) unless it is 0, and 0 means any length, held in memory while it
# arrives: so keep a bound and raise the clamp to it instead.
limit_request_line = 16384
_message = importlib.import_module("gunicorn.http.message")
if getattr(_message, "MAX_REQUEST_LINE", limit_request_line) < limit_request_line:
    _message.MAX_REQUEST_LINE = limit_request_line
# The application logs every request itself (JSON, with user, repository, bytes, duration),
# so gunicorn's own access log is off unless asked for ("-" = stderr, or a path).
_access = os.environ.get("REGISTRY_ACCESS_LOG", "off")
accesslog = None if _access == "off" else _access
errorlog = "-"
loglevel = os.environ.get("REGISTRY_LOG_LEVEL", "info").lower()


def _json_logging(level: str, access: str) -> dict:
    """gunicorn's own lines (worker boots, timeouts, its access log) as the JSON objects
    the application writes, so one stream carries one format for log shippers."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from registry_api.logformat import JsonFormatter  # no Django: fine in the master

    handlers = {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}}
    access_handlers = []
    if access == "-":
        access_handlers = ["stderr"]
    elif access != "off":
        handlers["access_file"] = {"class": "logging.FileHandler", "formatter": "json", "filename": access}
        access_handlers = ["access_file"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": handlers,
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            # A logging config turns gunicorn's access log on; with no handler it stays off.
            "gunicorn.access": {"level": "INFO", "handlers": access_handlers, "propagate": False},
        },
    }


if os.environ.get("REGISTRY_LOG_FORMAT", "json") == "json":
    logconfig_dict = _json_logging(loglevel.upper(), _access)


class _AccessLogWhenAsked(importlib.import_module("gunicorn.glogging").Logger):
    """gunicorn turns its access log on whenever a logging config is given, and then builds
    every request's log atoms for a logger with no handler to drop (2.5% of a worker's time
    on small pushes, `make bench`). Here it is on only when REGISTRY_ACCESS_LOG asks: the
    application logs each request itself (registry_api/requestlog.py)."""

    def _compute_access_log_enabled(self):
        return bool(self.cfg.accesslog)


logger_class = _AccessLogWhenAsked
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), which
# several instances on one host would fight over; nothing here uses it.
control_socket_disable = True


# Prometheus counters of all workers are summed through files in this directory, emptied
# when the master starts (prometheus-client's multiprocess mode).
_data_dir = Path(os.environ.get("REGISTRY_DATA_DIR", Path(__file__).resolve().parent.parent / "data"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_data_dir / "prometheus"))


def on_starting(server):
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
