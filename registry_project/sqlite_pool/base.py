"""Django's SQLite backend, with closed connections kept open for the next user.

Under the gevent worker (registry_project/gunicorn_worker.py) Django's connections are
per greenlet, that is per client connection, and a greenlet hands its connection back
whenever it waits on its client: thousands of idle or slow clients then hold none. With
the stock backend each hand-back would be a real close and the next query a real open,
which costs more than a manifest HEAD: 3,900 HEADs/s became 950 in an A/B run. Here a
close keeps the sqlite3 connection in a per-process list (at most MAX_IDLE), and an open
takes one from there. Django's PostgreSQL backend has a pool of its own (psycopg_pool);
settings.py picks both when the process runs under gevent.

A kept connection is used again only while the database file is the one it opened (a
restore, or an operator's mistake, replaces the file: the readiness probe must see that)
and for CONN_MAX_AGE seconds at most.

A transaction that must wait for another writer (another worker, or `manage.py gc` in a
process of its own) waits in gevent's loop: in SQLite's busy handler the whole worker
would stop with it, and a writer in another greenlet of the same worker could never
finish, so both would wait out the timeout.
"""
from __future__ import annotations

import os
import time

import gevent
from django.db import OperationalError
from django.db.backends.sqlite3 import base

# Idle connections kept per process. More are opened when more greenlets query at once
# (a query never yields, so that is rare), and closed for real when handed back.
MAX_IDLE = 8

# (connection, inode of the file it opened, when it was opened)
_idle: list[tuple[object, int, float]] = []


def _inode(path) -> int:
    try:
        return os.stat(path).st_ino
    except (OSError, TypeError, ValueError):
        return -1  # no file (yet): nothing to keep a connection to


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self):
        """BEGIN (IMMEDIATE, settings.py), retried in gevent's loop while another writer
        holds the lock, for as long as the `timeout` option says SQLite would wait."""
        patience = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        deadline, pause = time.monotonic() + patience, 0.001
        self.connection.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    return super()._start_transaction_under_autocommit()
                except OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                        raise
                gevent.sleep(pause)
                pause = min(pause * 2, 0.05)
        finally:
            self.connection.execute(f"PRAGMA busy_timeout = {int(patience * 1000)}")

    def get_new_connection(self, conn_params):
        inode = _inode(conn_params.get("database"))
        max_age = self.settings_dict.get("CONN_MAX_AGE")
        now = time.monotonic()
        while _idle:
            connection, opened_inode, opened_at = _idle.pop()
            if opened_inode == inode != -1 and (max_age is None or now - opened_at < max_age):
                self._pool_key = (opened_inode, opened_at)
                return connection
            connection.close()
        connection = super().get_new_connection(conn_params)
        self._pool_key = (_inode(conn_params.get("database")), now)  # the file exists now
        return connection

    def _close(self):
        connection = self.connection
        key = getattr(self, "_pool_key", None)
        if connection is not None and key and not connection.in_transaction and len(_idle) < MAX_IDLE:
            _idle.append((connection, *key))  # PRAGMAs and functions stay set up
            return
        super()._close()
