"""Housekeeping racing pushes statement by statement, on SQLite and on PostgreSQL.

Each test runs one scenario of tests/services/concurrent_scenarios.py in a process of its
own, against a fresh copy of a migrated database: SQLite in a file (as deployed, so the
threads really contend for its write lock), PostgreSQL from the `postgres_server` fixture.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.postgres import REPO_ROOT, clean_env

pytestmark = pytest.mark.django_db  # the autouse storage fixture of tests/services wants it

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.xdist_group("postgres"))]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite data directory, copied for each scenario."""
    data_dir = tmp_path_factory.mktemp("sqlite-template")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO_ROOT, check=True,
                   env={**clean_env(), "REGISTRY_DATA_DIR": str(data_dir), "REGISTRY_LOG_LEVEL": "WARNING"},
                   capture_output=True, timeout=300)
    return data_dir


@pytest.fixture(params=DATABASES)
def scenario_env(request, tmp_path) -> dict[str, str]:
    data_dir = tmp_path / "data"
    env = {**clean_env(), "DJANGO_SETTINGS_MODULE": "registry_project.settings", "REGISTRY_DATA_DIR": str(data_dir),
           "REGISTRY_AUTH_ENABLED": "false", "REGISTRY_LOG_LEVEL": "WARNING", "REGISTRY_LOG_FORMAT": "plain"}
    if request.param == "sqlite":
        shutil.copytree(request.getfixturevalue("sqlite_template"), data_dir)
    else:
        data_dir.mkdir()
        env["DATABASE_URL"] = request.getfixturevalue("postgres_server").new_database()
    return env


def run(env: dict[str, str], scenario: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "tests.services.concurrent_scenarios", scenario], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=240)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, f"{scenario} failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(lines[-1][len("RESULT "):])


def _intact(outcome: dict) -> None:
    assert outcome["gc_error"] is None and outcome["push_error"] is None, outcome
    assert outcome["links"] == outcome["wanted"] and outcome["files"] == outcome["wanted"], outcome
    assert outcome["manifest_put"] == "201", outcome


def test_layers_pushed_again_while_gc_sweeps_their_links_are_kept(scenario_env):
    _intact(run(scenario_env, "link_refreshed_during_sweep"))


def test_a_link_gc_deletes_while_a_push_refreshes_it_is_made_again(scenario_env):
    _intact(run(scenario_env, "link_deleted_before_refresh"))


def test_a_refused_upload_never_deletes_the_file_of_a_concurrent_commit(scenario_env):
    outcome = run(scenario_env, "discard_racing_a_commit")
    assert outcome["a"] == "DENIED" and outcome["a_error"] is None and outcome["b_error"] is None, outcome
    assert outcome["row"] and outcome["file"] and outcome["fsck"] == [], outcome


def test_fsck_does_not_report_the_file_of_a_blob_gc_is_deleting(scenario_env):
    outcome = run(scenario_env, "fsck_during_gc_delete")
    assert outcome["gc_error"] is None and outcome["fsck_error"] is None and outcome["gc"] == 1, outcome
    assert outcome["fsck"] == [], outcome


def test_a_mount_from_a_repository_gc_is_sweeping_neither_deadlocks_nor_loses_the_blob(scenario_env):
    outcome = run(scenario_env, "mount_while_gc_sweeps_its_source")
    assert outcome["gc_error"] is None and outcome["mount_error"] is None, outcome
    # Either the mount landed first (and the blob stays, linked where it was mounted) or
    # the collection did (and the mount finds nothing, so the client uploads): never half.
    if outcome["mounted"]:
        assert outcome["links"] == ["lib/dst"] and outcome["file"], outcome
    else:
        assert outcome["links"] == [] and not outcome["file"], outcome
