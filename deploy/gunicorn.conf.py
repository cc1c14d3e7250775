"""gunicorn settings for the registry.

gevent workers (registry_project/gunicorn_worker.py): a connection costs a greenlet and a
socket, never a thread. A thread per connection (gthread, 2 workers of 12 threads) was
exhausted by 24 slow, idle or half-sent connections, and then nobody was answered:
200 clients pulling at 2 MiB/s took 55.5 s instead of 8, and 50 connections holding
half a request left `GET /v2/` unanswered. Django's code runs unchanged in the greenlets:
sockets, locks and psycopg 3 wait cooperatively; blob pulls stay zero-copy (os.sendfile()
on the non-blocking socket), and the worker adds the deadlines gunicorn's own gevent
worker lacks (REGISTRY_HEADER_TIMEOUT, REGISTRY_STALL_TIMEOUT).

Chosen by measurement (2 cores):
- the fleet of slow, idle and hostile clients (`make bench-fleet`, 6 runs, 2026-12-06;
  docs/performance.md, "Many clients"): 200 pulls and 64 pushes at 2 MiB/s each finish
  within 1.02-1.03x of their ideal 8 s, a normal request is answered in under 10 ms with
  1,000 half-sent requests or 2,000 idle connections held, and the 2,000 add ~30 MB; with
  threads the pulls took 55.5 s and 50 half-sent requests left `GET /v2/` unanswered;
- what it costs against the threaded worker it replaced, both in one run
  (`BENCH_AGAINST=57d876c make bench`, that revision being the last threaded one; two runs,
  2026-12-06; ratios gevent / threads): pushes 1.00-1.01x monolithic and 0.94x chunked;
  pulls 1.05-1.20x on 1 stream and 0.92-1.00x on 4 (sendfile() is called from the
  worker's thread pool once a client drains at kernel speed); manifest HEADs and GETs at
  concurrency 1 0.95-1.04x; at concurrency 16, HEADs 0.89-1.28x and GETs 0.93-0.95x, p99
  14-15 ms against 9-13 ms; small image pushes 0.94-0.95x (each request pays greenlet
  switches and a trip to the thread pool for its file work, which a thread did in
  place); 32 pulls + 8 pushes at once 0.68-0.76x as make bench's one sample at the end of
  its run, but 6.8 s against 7.2 s as the medians of 6 alternate rounds of the same
  workload (bench/workloads.py, many_clients) with both servers up;
- gunicorn's ASGI worker was ruled out without a run: Django's ASGI handler reads a
  whole request body into a temporary file before the view starts (a 1 GiB push written
  twice) and sends file answers in chunks from a thread, not with sendfile().

Two workers by default: one per core, for the requests that need the GIL. Each costs
~90 MB of RSS (the master ~30). A new connection goes to the worker holding the fewest
(registry_project/worker_balance.py): left to whichever woke first, 16 clients split
12 to 4 as often as 8 to 8, and the crowded worker set the pace (manifest HEADs at
concurrency 16: 4,750/s and p99 30.6 ms at 4/12; 5,950-6,250/s and p99 10-14 ms balanced).
"""
import ctypes
import ctypes.util
import importlib
import os
import resource
import sys
from pathlib import Path

import environ

REPO_ROOT = Path(__file__).resolve().parent.parent
# The same `.env` the Django settings read, so REGISTRY_BIND there is honoured too.
environ.Env.read_env(REPO_ROOT / ".env", overwrite=False)

bind = os.environ.get("REGISTRY_BIND", "0.0.0.0:5000")
workers = int(os.environ.get("REGISTRY_WORKERS", "2"))
worker_class = "registry_project.gunicorn_worker.CheapConnectionWorker"
# Connections each worker holds at most (idle ones included); beyond, new ones wait in
# the listen backlog. Each costs a socket, a greenlet and ~10 KB.
worker_connections = int(os.environ.get("REGISTRY_WORKER_CONNECTIONS", "10000"))
# Heartbeat timeout of a stuck worker, not a request time limit: the worker's loop
# notifies the arbiter every second while its connections stream.
timeout = int(os.environ.get("REGISTRY_WORKER_TIMEOUT", "120"))
# Blob bodies are FileResponses over real files: gunicorn sends them with sendfile(2),
# zero-copy from the page cache (also for 206 ranges, registry_api.edge.http.BoundedFile).
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


def _raise_open_files_limit() -> int:
    """Every connection is a file descriptor, and systemd and most shells start services
    with a soft limit of 1,024: raised to the hard limit (systemd's is 524,288) in the
    master, so that each worker inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            return wanted
        except (ValueError, OSError):
            pass
    return soft


_raise_open_files_limit()


def _limit_malloc_arenas(count: int) -> bool:
    """glibc gives threads malloc arenas of their own, up to 8 per core, and each keeps what
    was freed in it. Greenlets share their worker's thread; the threads left (gevent's
    resolver pool) need no arena of their own. With 2 arenas and threaded workers, 32 pulls
    and 8 pushes at once (bench/workloads.py) peaked at 183 MB instead of 200 MB.
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
    from registry_api.edge.logformat import JsonFormatter  # no Django: fine in the master

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
    application logs each request itself (registry_api/edge/requestlog.py)."""

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
