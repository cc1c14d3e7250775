"""Starting the disk write of staged bytes while the rest of the upload still arrives.

A blob is fdatasync'ed before its push is acknowledged. Left alone, Linux writes nothing
of a 1 GiB upload until then (background writeback starts at 10% of RAM dirty), so the
push first receives everything and then waits for the whole flush. `sync_file_range(2)`
with SYNC_FILE_RANGE_WRITE starts the write of a range without waiting for it and leaves
the pages cached (a pull right after the push still reads from memory); the final
fdatasync then only waits for the tail. Python's os module lacks the call: it is reached
through ctypes, and is a no-op where the C library has no such function.
"""
from __future__ import annotations

import ctypes
import ctypes.util

SYNC_FILE_RANGE_WRITE = 2
# How much a writer stages before it starts the disk write of what it has not handed over yet.
WRITEBACK_STEP = 8 * 1024 * 1024


def _load():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load()


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Ask the kernel to start writing [offset, offset + length) of `fd`; True if it took
    the request. Best effort: a refusal (a filesystem without it) changes nothing, the
    fdatasync at commit is what makes the bytes durable."""
    if _sync_file_range is None or length <= 0:
        return False
    return _sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE) == 0
