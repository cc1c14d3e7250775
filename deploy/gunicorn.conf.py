"""gunicorn settings for the registry.

gthread workers: a layer upload or download can stream for minutes; with threads the
worker's main loop keeps answering the arbiter's heartbeat while a request streams, so
`timeout` never kills a slow multi-GB push. Blob GETs go out through gunicorn's sendfile().
"""
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
# "-" logs each request to stderr; set REGISTRY_ACCESS_LOG=off to disable.
_access = os.environ.get("REGISTRY_ACCESS_LOG", "-")
accesslog = None if _access == "off" else _access
errorlog = "-"
loglevel = os.environ.get("REGISTRY_LOG_LEVEL", "info").lower()
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), which
# several instances on one host would fight over; nothing here uses it.
control_socket_disable = True
