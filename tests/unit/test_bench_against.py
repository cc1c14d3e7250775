"""BENCH_AGAINST: the benchmarks can run ours as of another revision in Distribution's place,
from a worktree of this checkout that shares its .venv and is gone afterwards."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import servers  # noqa: E402


def _worktrees() -> str:
    return subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_a_revision_is_checked_out_beside_this_checkout_and_removed_after(tmp_path):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    with servers.revision_worktree(head, tmp_path) as path:
        assert (path / "deploy" / "gunicorn.conf.py").is_file()
        assert (path / ".venv").resolve() == (ROOT / ".venv").resolve()
        assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True).stdout.strip() == head
        assert str(path) in _worktrees()
    assert not path.exists() and str(path) not in _worktrees()


def test_an_unknown_revision_is_a_clear_error_and_leaves_no_worktree(tmp_path):
    with pytest.raises(SystemExit, match="BENCH_AGAINST=no-such-revision"):
        with servers.revision_worktree("no-such-revision", tmp_path):
            raise AssertionError("the block must not run")
    assert str(tmp_path / "revision") not in _worktrees()
