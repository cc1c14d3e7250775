"""What a newcomer runs first: `make demo` (scripts/demo.py) and `make run`.

Both are run as the README says, against fresh data directories; `make run` is started in
a session of its own (make spawns gunicorn, which spawns workers) and stopped by signalling
that whole process group, never by process name.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import REPO_ROOT
from .support import require_tool

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without the registry's settings (the Makefile exports
    REGISTRY_BIND; a developer may have DATABASE_URL), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_") and k != "DATABASE_URL"}
    return {**env, **extra}


def _version_check_status(address: str) -> int | None:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def test_demo_runs_to_success_on_its_own_data(tmp_path):
    require_tool("skopeo")
    result = subprocess.run(
        [sys.executable, "scripts/demo.py"], cwd=REPO_ROOT, env=_clean_env(CI="1", TMPDIR=str(tmp_path)),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    out = result.stdout
    assert "== Without credentials: 401" in out
    assert '"repositories": ["demo/hello"]' in out
    assert "Manifest served byte for byte as pushed: True" in out
    # Its temporary data directory (under TMPDIR) is gone with the demo.
    assert not any(tmp_path.glob("registry-demo*"))


def test_make_run_honours_registry_bind_and_data_dir(tmp_path):
    make = require_tool("make")
    address = f"127.0.0.1:{_free_port()}"
    data_dir = tmp_path / "data"
    # The virtualenv running these tests stands for .venv: `-o` tells make it is up to date
    # (so nothing is installed here), and the rest is `make run` as the README has it.
    venv = Path(sys.executable).parent.parent
    log_path = tmp_path / "make-run.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [make, "-o", f"{venv}/.installed", "run", f"VENV={venv}"],
            cwd=REPO_ROOT, env=_clean_env(REGISTRY_BIND=address, REGISTRY_DATA_DIR=str(data_dir), REGISTRY_WORKERS="1"),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while (status := _version_check_status(address)) is None:
            assert proc.poll() is None, f"make run exited with {proc.returncode}:\n{log_path.read_text()[-5000:]}"
            assert time.monotonic() < deadline, f"nothing answered on {address}:\n{log_path.read_text()[-5000:]}"
            time.sleep(0.2)
        assert status == 401  # access control on from the first start: docker login's challenge
        # Everything the first start writes went to REGISTRY_DATA_DIR.
        assert (data_dir / "registry.sqlite3").is_file()
        assert (data_dir / "admin.password").is_file()
        assert (data_dir / "blobs").is_dir() and (data_dir / "uploads").is_dir()
    finally:
        _stop_group(proc)
    assert _version_check_status(address) is None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to make's process group (make, gunicorn and its workers), then wait for the
    whole group, not only make, to be gone; SIGKILL what is left after 30 s."""
    if _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        proc.poll()  # reap make as soon as it exits
        time.sleep(0.1)
    if _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
