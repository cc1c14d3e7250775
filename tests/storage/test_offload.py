"""storage_backends.offload: blocking file work runs on gevent's thread pool in a gevent
worker, and right here anywhere else."""
from __future__ import annotations

import threading

import gevent
import gevent.monkey

from storage_backends.offload import off_the_loop


def test_outside_gevent_the_call_runs_here():
    assert off_the_loop(threading.get_ident) == threading.get_ident()


def test_in_a_gevent_worker_the_call_runs_on_a_thread_of_the_pool(monkeypatch):
    monkeypatch.setattr(gevent.monkey, "is_module_patched", lambda name: True)  # as in a worker
    ran_on = gevent.spawn(off_the_loop, threading.get_ident).get(timeout=5)
    assert ran_on != threading.get_ident()
    assert off_the_loop(divmod, 7, 2) == (3, 1)  # arguments and the result pass through


def test_an_error_in_the_pool_is_raised_to_the_caller_and_not_printed(monkeypatch, capsys):
    """A failed write (a full disk, a vanished directory) is the caller's error to answer:
    gevent's pool would also print it to stderr with its traceback, in the server's log."""
    monkeypatch.setattr(gevent.monkey, "is_module_patched", lambda name: True)

    def fails():
        raise OSError(28, "No space left on device")

    def caller():
        try:
            off_the_loop(fails)
        except OSError as exc:
            return exc
        return None

    error = gevent.spawn(caller).get(timeout=5)
    assert isinstance(error, OSError) and error.errno == 28
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out and "failed with" not in captured.err + captured.out
