"""registry_project/worker_balance.py and the worker's use of it: the board is shared across
fork, live workers' counts are seen and dead ones' are not, and a worker holding more
connections than another leaves a new one to it for a moment, then takes it
(gunicorn_worker.BalancedServer)."""
from __future__ import annotations

import os
import socket
import time
from types import SimpleNamespace

import gevent
import pytest
from gevent import socket as gsocket

from registry_project import gunicorn_worker, worker_balance
from registry_project.gunicorn_worker import BalancedServer
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


# The worker's accept: BalancedServer over a real listening socket, in gevent's loop.


@pytest.fixture
def server(monkeypatch):
    """A BalancedServer of a worker holding `worker.connections`, with a sibling on the
    board; the pause is long enough to be seen between two turns of the loop."""
    monkeypatch.setattr(gunicorn_worker, "ACCEPT_DEFER_SECONDS", 0.2)
    listener = gsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    worker = SimpleNamespace(board=LoadBoard(), connections=0)
    assert worker.board.claim(0, os.getpid())
    accepted = []
    made = type("Server", (BalancedServer,), {"worker": worker})(
        listener, handle=lambda sock, address: accepted.append(address))
    made.start()
    clients = []
    yield made, worker, accepted, clients
    made.stop()
    for client in clients:
        client.close()


def _connect(made, clients) -> None:
    clients.append(socket.create_connection(made.address))


def test_a_worker_with_no_lighter_sibling_accepts_at_once(server):
    made, worker, accepted, clients = server
    _other_worker(worker.board, 1002, 2)
    worker.connections = 2
    _connect(made, clients)
    gevent.sleep(0.05)
    assert len(accepted) == 1


def test_a_busier_worker_leaves_the_connection_then_takes_it_if_still_waiting(server):
    made, worker, accepted, clients = server
    _other_worker(worker.board, 1002, 0)  # a sibling that never takes it
    worker.connections = 2
    _connect(made, clients)
    gevent.sleep(0.05)
    assert accepted == []  # left to the sibling for the pause
    gevent.sleep(0.4)
    assert len(accepted) == 1  # still waiting after it: taken here
    _connect(made, clients)
    gevent.sleep(0.05)
    assert len(accepted) == 1  # only one is taken that way: the next waits again
    gevent.sleep(0.4)
    assert len(accepted) == 2


def test_in_a_crowd_a_sibling_must_hold_an_eighth_fewer(server):
    """A burst of a thousand connections is accepted at full speed, not one pause each."""
    made, worker, accepted, clients = server
    other = _other_worker(worker.board, 1002, 360)
    worker.connections = 400
    _connect(made, clients)
    gevent.sleep(0.05)
    assert len(accepted) == 1  # 360 is within 400's margin of 50
    other.publish(340)
    _connect(made, clients)
    gevent.sleep(0.05)
    assert len(accepted) == 1  # 340 is not: left to the sibling
