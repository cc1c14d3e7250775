"""gunicorn settings for the registry.

gthread workers: a layer upload or download can stream for minutes; with threads the
worker's main loop keeps answering the arbiter's heartbeat while a request streams, so
`timeout` never kills a slow multi-GB push. Blob GETs go out through gunicorn's sendfile().
"""
import importlib
import os
from pathlib import Path

import environ

# The same `.env` the Django settings read, so REGISTRY_BIND there is honoured too.
environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)

bind = os.environ.get("REGISTRY_BIND", "0.0.0.0:5000")
workers = int(os.environ.get("REGISTRY_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("REGISTRY_THREADS", "8"))
# Heartbeat timeout of an idle-looking worker, not a request time limit under gthread.
timeout = int(os.environ.get("REGISTRY_WORKER_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 75
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
