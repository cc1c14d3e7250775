"""The lock helpers refuse to run where they would not lock anything."""
from __future__ import annotations

import pytest
from django.db import NotSupportedError, connection, transaction

from registry_api.db.locking import lock_digest, lock_digests, lock_name

pytestmark = pytest.mark.django_db(transaction=True)  # outside the test's own transaction

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("take", [lambda: lock_digest(DIGEST), lambda: lock_digests([DIGEST]), lambda: lock_name("x")])
def test_a_lock_outside_a_transaction_is_refused(take):
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        take()


def test_inside_a_transaction_it_holds_until_the_end():
    with transaction.atomic():
        lock_digest(DIGEST)
        lock_digests([DIGEST, "sha256:" + "b" * 64])


def test_sqlite_without_immediate_transactions_is_refused(monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("about SQLite's transaction mode")
    options = {**connection.settings_dict.get("OPTIONS", {}), "transaction_mode": "DEFERRED"}
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    with transaction.atomic(), pytest.raises(NotSupportedError, match="IMMEDIATE"):
        lock_digest(DIGEST)
