"""Blocking file work handed to a real thread when the process runs gevent's loop.

Under the gevent worker (registry_project/gunicorn_worker.py) a write() into the page cache
can wait on the kernel's dirty-page throttling, and an fsync() on the disk: tens of
milliseconds on a busy disk, during which every other connection of the worker waits too.
64 pushes at once delayed a manifest HEAD by 49 ms every few seconds in the loop, and by
17 ms at most with their writes and hashing on gevent's thread pool. Outside gevent (tests,
management commands) the call simply runs here.
"""
from __future__ import annotations

import sys
from typing import Callable, TypeVar

T = TypeVar("T")


def under_gevent() -> bool:
    """Whether this process runs gevent's loop: a gevent worker's, which patched sockets
    (registry_project/gunicorn_worker.py). settings.py asks it too, to pool connections."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


def off_the_loop(function: Callable[..., T], *args) -> T:
    """`function(*args)`, on gevent's thread pool when this process runs gevent's loop.
    Its exception is raised here, to the caller, and only here: left to the pool, gevent
    would also print it with its traceback into the server's log."""
    if not under_gevent():
        return function(*args)
    import gevent

    done, outcome = gevent.get_hub().threadpool.apply(_outcome, (function, args))
    if done:
        return outcome
    raise outcome


def _outcome(function, args) -> tuple[bool, object]:
    try:
        return True, function(*args)
    except Exception as exc:  # noqa: BLE001 - raised again in the caller's greenlet
        return False, exc
