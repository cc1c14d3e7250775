"""registry_project/worker_balance.py and the worker's use of it: the board is shared across
fork, live workers' counts are seen and dead ones' are not, and a worker holding more
connections than another leaves a new one to it for a moment, then takes it."""
from __future__ import annotations

import os
import selectors
import socket
import time

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from registry_project import worker_balance
from registry_project.gunicorn_worker import LingeringThreadWorker
from registry_project.worker_balance import STALE_SECONDS, LoadBoard


def _other_worker(board: LoadBoard, pid: int, connections: int) -> LoadBoard:
    """A second worker's view of the same board (same mapping, its own slot)."""
    other = object.__new__(LoadBoard)
    other.__dict__.update(board.__dict__)
    other._mine = None
    assert other.claim(1, pid)
    other.publish(connections)
    return other


def test_workers_take_different_slots_and_see_each_others_counts():
    board = LoadBoard()
    assert board.claim(1, 1001)
    other = _other_worker(board, 1002, 3)
    assert other._mine != board._mine
    assert board.fewer_elsewhere(4)
    assert not board.fewer_elsewhere(3)  # a tie: both may take it
    board.publish(1)
    assert other.fewer_elsewhere(3) and not other.fewer_elsewhere(1)


def test_a_count_written_in_a_forked_worker_is_read_by_its_sibling():
    board = LoadBoard()
    assert board.claim(1, os.getpid())
    pid = os.fork()
    if pid == 0:  # the child: nothing here may raise past os._exit
        try:
            board._mine = None
            board.claim(2)
            board.publish(0)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert board.fewer_elsewhere(1)


def test_a_slot_not_written_for_a_while_is_no_worker(monkeypatch):
    board = LoadBoard()
    assert board.claim(1, 1001)
    _other_worker(board, 1002, 0)
    assert board.fewer_elsewhere(1)
    later = time.monotonic() + STALE_SECONDS + 1
    monkeypatch.setattr(worker_balance.time, "monotonic", lambda: later)
    assert not board.fewer_elsewhere(1)
    assert board.claim(2, 1003) and board._mine == 2  # the dead worker's slot is taken again


def test_a_stopping_worker_leaves_the_board():
    board = LoadBoard()
    assert board.claim(1, 1001)
    other = _other_worker(board, 1002, 0)
    other.release()
    assert not board.fewer_elsewhere(5)
    other.publish(0)  # released: writes nothing more
    assert not board.fewer_elsewhere(5)


def test_a_worker_whose_slot_was_taken_moves_to_another():
    board = LoadBoard()
    assert board.claim(1, 1001)
    intruder = _other_worker(board, 1002, 0)
    intruder.claim(board._mine, 1002)  # the same slot, as a race of two claims could give
    intruder.publish(0)
    board.publish(7)
    assert board._mine not in (None, intruder._mine)
    assert intruder.fewer_elsewhere(8) and board.fewer_elsewhere(1)


def test_a_full_board_leaves_the_worker_unbalanced():
    board = LoadBoard(slots=2)
    assert board.claim(0, 1001)
    _other_worker(board, 1002, 0)
    late = object.__new__(LoadBoard)
    late.__dict__.update(board.__dict__)
    assert not late.claim(0, 1003)
    assert not late.fewer_elsewhere(100)
    late.publish(5)  # no slot: nothing written over the others'
    assert board.fewer_elsewhere(1)


# The worker's accept, over a real listening socket and gunicorn's own configuration.


@pytest.fixture
def worker():
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    cfg = Config()
    cfg.set("threads", 2)
    LingeringThreadWorker.board = None
    made = LingeringThreadWorker(1, os.getpid(), [listener], None, 30, cfg, Logger(cfg))
    made.poller = selectors.DefaultSelector()
    made.accepted = []
    made.enqueue_req = made.accepted.append  # no thread pool: record what was taken
    made.board.claim(1, os.getpid())
    clients = []
    yield made, listener, clients
    for conn in made.accepted:
        conn.sock.close()
    for client in clients:
        client.close()
    made.poller.close()
    made.tmp.close()
    listener.close()
    LingeringThreadWorker.board = None


def _connect(listener, clients) -> None:
    clients.append(socket.create_connection(listener.getsockname()))


def test_a_worker_with_no_lighter_sibling_accepts_at_once(worker):
    made, listener, clients = worker
    _other_worker(made.board, 1002, 2)
    made.nr_conns = 2
    _connect(listener, clients)
    made.accept(listener)
    assert len(made.accepted) == 1 and made.nr_conns == 3


def test_a_busier_worker_leaves_the_connection_then_takes_it_if_still_waiting(worker):
    made, listener, clients = worker
    _other_worker(made.board, 1002, 0)
    made.nr_conns = 1
    made.set_accept_enabled(True)
    _connect(listener, clients)
    made.accept(listener)
    assert made.accepted == [] and not made._accepting
    made.set_accept_enabled(True)  # the loop's next turn, before the pause ends
    assert not made._accepting
    started = time.monotonic()
    made.wait_for_and_dispatch_events(1.0)  # wakes when the pause ends, not after 1 s
    assert time.monotonic() - started < 0.5
    time.sleep(max(0.0, made._paused_until - time.monotonic()))
    made.set_accept_enabled(True)
    assert made._accepting
    made.wait_for_and_dispatch_events(1.0)  # the listener is readable: the connection is ours
    assert len(made.accepted) == 1 and made.nr_conns == 2
    _connect(listener, clients)
    made.accept(listener)  # only one is taken that way: the sibling is lighter again
    assert len(made.accepted) == 1


def test_the_worker_publishes_its_count_each_turn_and_leaves_when_stopping(worker):
    made, listener, clients = worker
    other = _other_worker(made.board, 1002, 5)
    made.nr_conns = 3
    made.wait_for_and_dispatch_events(0)
    assert other.fewer_elsewhere(4) and not other.fewer_elsewhere(3)
    made.alive = False
    made.wait_for_and_dispatch_events(0)
    assert not other.fewer_elsewhere(100)

