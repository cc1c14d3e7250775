"""Django's deployment checklist (`manage.py check --deploy`) is clean with the production
environment of deploy/registry.env (TLS at nginx), and the cookies and HSTS it asks for
follow REGISTRY_BEHIND_PROXY and their own settings.

Each case runs `manage.py` in a process of its own: settings are read from the environment
once, at import.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_environment(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The test process's environment without its registry settings, plus every assignment
    of deploy/registry.env; only the data directory moves (the host's /var/lib is not ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_") and k != "DATABASE_URL"}
    for line in (ROOT / "deploy" / "registry.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return {**env, "REGISTRY_DATA_DIR": str(data_dir), **overrides}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_reports_nothing_with_the_production_environment(tmp_path):
    env = production_environment(tmp_path)
    assert env["REGISTRY_BEHIND_PROXY"] == "true"
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


SHOW = ("from django.conf import settings as s; import json; print(json.dumps("
        "[s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS]))")


def shown(env: dict[str, str]) -> list:
    result = manage(env, "shell", "-c", SHOW)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cookies_are_secure_behind_the_proxy_by_default_with_a_years_hsts(tmp_path):
    assert shown(production_environment(tmp_path)) == [True, True, 365 * 24 * 3600]
    plain = production_environment(tmp_path, REGISTRY_BEHIND_PROXY="false")
    assert shown(plain)[:2] == [False, False]  # a plain-http site: browsers would drop them


def test_the_cookies_and_hsts_are_settings(tmp_path):
    env = production_environment(tmp_path, REGISTRY_SECURE_COOKIES="false", REGISTRY_HSTS_SECONDS="0")
    assert shown(env) == [False, False, 0]
