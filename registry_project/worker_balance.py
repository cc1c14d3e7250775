"""How many connections each gunicorn worker holds, shared between the workers of one
master, so that a new connection goes to the worker holding the fewest.

A kept-alive connection stays with the worker that accepted it, and every worker polls
the one listening socket: whichever wakes first takes a connection. Sixteen clients
connecting at once split 13 to 3 as often as 8 to 8, and the crowded worker's GIL then
sets the pace: 980 manifest HEADs/s at 13/3, 1,520 at 11/5, 2,955 at 8/8 (bench
workloads, 2 workers, 2 cores). nginx's `least_conn` answers the same problem.

The board is an anonymous shared mapping, made in the master before it forks, so every
worker (respawned ones too) inherits it: one slot per worker with its pid, its number of
connections, and when it last wrote them (CLOCK_MONOTONIC is the same clock in every
process). A worker's loop writes at least once a second, so a slot not written for
STALE_SECONDS belongs to no live worker: a worker killed by a signal never blocks one.
Slots are read and written without a lock; a torn read misplaces at most one connection.
"""
from __future__ import annotations

import mmap
import os
import struct
import time

SLOTS = 64
STALE_SECONDS = 3.0
_SLOT = struct.Struct("=dII")  # last written (monotonic s), pid, connections


class LoadBoard:
    def __init__(self, slots: int = SLOTS) -> None:
        self._map = mmap.mmap(-1, slots * _SLOT.size)  # MAP_SHARED | MAP_ANONYMOUS
        self._slots = slots
        self._mine: int | None = None
        self._pid = 0

    def claim(self, hint: int, pid: int | None = None) -> bool:
        """Take the first free slot from `hint` on (a worker's age: workers spawned together
        start on different slots). False when the board is full: that worker then accepts
        as plain gunicorn does."""
        pid = os.getpid() if pid is None else pid
        now = time.monotonic()
        for step in range(self._slots):
            slot = (hint + step) % self._slots
            written, owner, _ = _SLOT.unpack_from(self._map, slot * _SLOT.size)
            if owner in (0, pid) or now - written > STALE_SECONDS:
                _SLOT.pack_into(self._map, slot * _SLOT.size, now, pid, 0)
                self._mine, self._pid = slot, pid
                return True
        self._mine = None
        return False

    def publish(self, connections: int) -> None:
        """Write this worker's count; a worker that lost its slot to another one (two
        claiming the same stale slot at once) claims a new one."""
        if self._mine is None:
            return
        offset = self._mine * _SLOT.size
        if _SLOT.unpack_from(self._map, offset)[1] != self._pid and not self.claim(self._mine + 1, self._pid):
            return
        _SLOT.pack_into(self._map, self._mine * _SLOT.size, time.monotonic(), self._pid, connections)

    def release(self) -> None:
        """Leave the board (a stopping worker, which accepts no more connections)."""
        if self._mine is not None and _SLOT.unpack_from(self._map, self._mine * _SLOT.size)[1] == self._pid:
            _SLOT.pack_into(self._map, self._mine * _SLOT.size, 0.0, 0, 0)
        self._mine = None

    def fewer_elsewhere(self, connections: int) -> bool:
        """Whether another live worker holds fewer connections than `connections`."""
        if self._mine is None:
            return False
        now = time.monotonic()
        for slot, (written, owner, count) in enumerate(_SLOT.iter_unpack(self._map)):
            if slot != self._mine and owner and count < connections and now - written <= STALE_SECONDS:
                return True
        return False
