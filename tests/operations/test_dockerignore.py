"""What `docker build` may copy into the image: the application, never a secret, the data
directory, a virtualenv or the tests. Evaluated the way Docker reads .dockerignore (last
matching pattern wins, `!` re-includes, a directory's pattern covers what is inside);
tests/e2e/test_container.py checks the built image itself."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pattern(text: str) -> re.Pattern:
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(out + "$")


def _rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, _pattern(line.lstrip("!").strip("/"))))
    return rules


def in_context(path: str) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negated, pattern in _rules():
        if any(pattern.match(c) for c in candidates):
            excluded = not negated
    return not excluded


@pytest.mark.parametrize("path", [
    "deploy/certs/registry.example.com.key", "deploy/certs/registry.example.com.pem",
    "deploy/admin_password.txt", "deploy/registry.env", ".env", "data/registry.sqlite3", "data/secret_key",
    ".venv/bin/python", "tests/conftest.py", "bench/run.py", "test-artifacts/screenshots/a.png",
    "requirements-dev.txt", ".git/config", "registry_api/__pycache__/models.cpython-311.pyc",
])
def test_stays_out_of_the_image(path):
    assert not in_context(path)


@pytest.mark.parametrize("path", [
    "manage.py", "requirements.txt", "registry_api/models/core.py", "registry_api/migrations/0001_initial.py",
    "registry_project/settings.py", "storage_backends/filesystem.py", "webui/templates/webui/home.html",
    "templates/base.html", "static/webui/app.css", "deploy/gunicorn.conf.py",
])
def test_goes_into_the_image(path):
    assert in_context(path)


def test_the_image_gets_what_the_dockerfile_runs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "deploy/gunicorn.conf.py" in dockerfile and in_context("deploy/gunicorn.conf.py")
    assert "-r requirements.txt" in dockerfile and "-r requirements-dev" not in dockerfile
    assert "pytest" not in (ROOT / "requirements.txt").read_text()
