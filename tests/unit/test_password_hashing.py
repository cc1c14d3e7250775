"""registry_project.gunicorn_worker.password_hashing_off_the_loop: Django's PBKDF2 runs on
gevent's thread pool in a worker, while the loop serves everyone else."""
from __future__ import annotations

import hashlib
import threading
import time

import gevent
import gevent.monkey

from registry_project import gunicorn_worker


def test_password_hashing_runs_off_the_loop(monkeypatch):
    """While a password's hash is computed, the worker's other greenlets keep running."""
    ran_on = []

    def slow(*args):
        ran_on.append(threading.get_ident())
        time.sleep(0.3)  # 0.3 s of CPU with the GIL released
        return b"derived"

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", slow)
    monkeypatch.setattr(gevent.monkey, "is_module_patched", lambda name: True)  # as in a worker
    gunicorn_worker.password_hashing_off_the_loop()
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(100)])
    assert gevent.spawn(hashlib.pbkdf2_hmac, "sha256", b"pw", b"salt", 1000).get(timeout=5) == b"derived"
    ticker.kill()
    assert len(ticks) >= 15  # ~30 in the 0.3 s, none if the loop had waited
    assert ran_on and threading.get_ident() not in ran_on
