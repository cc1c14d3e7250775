"""Several workers claiming from one queue at once, on SQLite and PostgreSQL: every job is
run, and by one worker only (SKIP LOCKED on PostgreSQL, the write lock on SQLite)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.postgres import REPO_ROOT, clean_env

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.xdist_group("postgres"))]
JOBS = 120
WORKERS = 4


@pytest.fixture(params=DATABASES)
def worker_env(request, tmp_path) -> dict[str, str]:
    env = {**clean_env(), "DJANGO_SETTINGS_MODULE": "registry_project.settings", "REGISTRY_DATA_DIR": str(tmp_path),
           "REGISTRY_LOG_LEVEL": "WARNING"}
    if request.param == "postgres":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_server").new_database()
    else:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO_ROOT, env=env,
                       check=True, capture_output=True, timeout=300)
    return env


def test_each_job_is_claimed_by_exactly_one_of_several_workers(worker_env, tmp_path):
    module = [sys.executable, "-m", "tests.replication.claim_race"]
    subprocess.run([*module, "fill", str(JOBS)], cwd=REPO_ROOT, env=worker_env, check=True, timeout=120)
    go = tmp_path / "go"
    workers = [subprocess.Popen([*module, "claim", str(go)], cwd=REPO_ROOT, env=worker_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(WORKERS)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "READY"
    go.touch()
    claimed = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
        (line,) = [line for line in out.splitlines() if line.startswith("RESULT ")]
        claimed.append(json.loads(line[len("RESULT "):]))
    every = [pk for ids in claimed for pk in ids]
    assert len(every) == JOBS and len(set(every)) == JOBS
    assert sum(1 for ids in claimed if ids) > 1, "one worker took everything: the race did not happen"
