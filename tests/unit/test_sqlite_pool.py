"""registry_project/sqlite_pool: a closed connection is kept for the next user, but never
one left in a transaction, one to a database file since replaced, or one past its age;
and a transaction waiting for another writer waits in gevent's loop."""
from __future__ import annotations

import gevent
import pytest
from django.db.utils import ConnectionHandler

from registry_project.sqlite_pool import base as pool


@pytest.fixture
def handler(tmp_path, monkeypatch, django_db_blocker):
    """Wrappers of a database of the test's own (not the test database)."""
    monkeypatch.setattr(pool, "_idle", [])
    django_db_blocker.unblock()
    handler = ConnectionHandler(
        {"default": {"ENGINE": "registry_project.sqlite_pool", "NAME": str(tmp_path / "db.sqlite3"), "CONN_MAX_AGE": 60}}
    )
    yield handler
    django_db_blocker.restore()
    for connection, *_ in pool._idle:
        connection.close()


def _raw(handler):
    """A new wrapper's raw sqlite3 connection (a new greenlet's view), after one query."""
    wrapper = handler.create_connection("default")
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
    return wrapper, wrapper.connection


def test_a_closed_connection_serves_the_next_user(handler):
    first, raw = _raw(handler)
    first.close()
    second, again = _raw(handler)
    assert again is raw
    second.close()
    assert len(pool._idle) == 1


def test_a_connection_in_a_transaction_is_closed_for_real(handler):
    first, raw = _raw(handler)
    raw.execute("BEGIN")
    raw.execute("CREATE TABLE t (x)")
    first.close()
    assert pool._idle == []


def test_a_replaced_database_file_is_opened_afresh(handler, tmp_path):
    first, raw = _raw(handler)
    first.close()
    path = tmp_path / "db.sqlite3"
    path.rename(tmp_path / "old.sqlite3")
    path.write_bytes(b"")
    second, fresh = _raw(handler)
    assert fresh is not raw
    second.close()


def test_a_connection_past_its_age_is_opened_afresh(handler, monkeypatch):
    first, raw = _raw(handler)
    first.close()
    later = pool.time.monotonic() + 61
    monkeypatch.setattr(pool.time, "monotonic", lambda: later)
    second, fresh = _raw(handler)
    assert fresh is not raw
    second.close()


def test_at_most_max_idle_are_kept(handler):
    opened = [_raw(handler) for _ in range(pool.MAX_IDLE + 3)]
    assert len({id(raw) for _, raw in opened}) == pool.MAX_IDLE + 3
    for wrapper, _ in opened:
        wrapper.close()
    assert len(pool._idle) == pool.MAX_IDLE


def test_a_transaction_waits_for_another_writer_in_the_loop(tmp_path, monkeypatch, django_db_blocker):
    """BEGIN IMMEDIATE behind another writer: the worker's other greenlets keep running,
    and the writer holding the lock (here one of them) can finish."""
    monkeypatch.setattr(pool, "_idle", [])
    handler = ConnectionHandler({"default": {
        "ENGINE": "registry_project.sqlite_pool", "NAME": str(tmp_path / "db.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 5},
    }})
    with django_db_blocker.unblock():
        holder, waiter = handler.create_connection("default"), handler.create_connection("default")
        holder.ensure_connection()
        waiter.ensure_connection()
        holder.connection.execute("BEGIN IMMEDIATE")
        ticks, started, committed = [], [], []
        ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(1000)])

        def commit_once_the_loop_has_turned():
            """The holder commits only after the waiter has tried and the loop has kept
            turning 10 times meanwhile: never if SQLite's handler held the loop."""
            while not started or len(ticks) < 10:
                gevent.sleep(0.005)
            holder.connection.execute("COMMIT")
            committed.append(True)

        def begin():
            started.append(True)  # its first BEGIN runs before this greenlet yields
            waiter._start_transaction_under_autocommit()
            return bool(committed), waiter.connection.in_transaction

        committer = gevent.spawn(commit_once_the_loop_has_turned)
        assert gevent.spawn(begin).get(timeout=10) == (True, True)  # it waited for the commit
        committer.get(timeout=1)
        ticker.kill()
        waiter.connection.execute("ROLLBACK")
        assert waiter.connection.execute("PRAGMA busy_timeout").fetchone() == (5000,)
        holder.close()
        waiter.close()
    for connection, *_ in pool._idle:
        connection.close()
