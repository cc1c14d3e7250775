"""bench/run.py's server CPU figure: it counts the CPU of a server's children (gunicorn's
workers) as well as its own, and nothing while the server only waits."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import run  # noqa: E402

# A "server" whose child spins for 0.5 s of CPU, then both wait to be stopped.
SPINNING_CHILD = """
import os, sys, time
if os.fork() == 0:
    end = time.process_time() + 0.5
    while time.process_time() < end:
        pass
    print("spun", flush=True)
    time.sleep(60)
else:
    time.sleep(60)
"""


def test_server_cpu_counts_the_children_and_not_the_waiting():
    proc = subprocess.Popen([sys.executable, "-c", SPINNING_CHILD], stdout=subprocess.PIPE, text=True)
    pids = []
    try:
        assert proc.stdout.readline().strip() == "spun"
        pids = run.server_pids(proc.pid)
        assert len(pids) == 2 and pids[0] == proc.pid
        spent = run.server_cpu_seconds(proc.pid)
        assert 0.45 <= spent < 1.5
        time.sleep(0.3)
        assert run.server_cpu_seconds(proc.pid) - spent < 0.05
    finally:
        for pid in pids[1:]:
            os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
        proc.stdout.close()
