"""Every REGISTRY_* setting the product reads is in docs/configuration.md's table and in
.env.example, and every setting those document is one the product reads.

The product reads settings in registry_project/settings.py (django-environ), and also in
deploy/gunicorn.conf.py (the gunicorn ones), registry_project/client_socket.py (the client
deadlines) and wherever else a module asks the environment: every string literal that is a
whole REGISTRY_* name passed to a call (`env.int("…")`, `os.environ.get("…")`,
`secret("…")`, …) or used as an `environ["…"]` key, in registry_project/, registry_api/,
storage_backends/, webui/ and deploy/. A name read through `secret()` may also be given as
NAME_FILE.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_DIRS = ("registry_project", "registry_api", "storage_backends", "webui", "deploy")
_READ = re.compile(r'[\w.]+\(\s*"(REGISTRY_[A-Z0-9_]+)"\s*[,)]|environ\[\s*"(REGISTRY_[A-Z0-9_]+)"\s*\]')
_SECRET = re.compile(r'\bsecret\(\s*"(REGISTRY_[A-Z0-9_]+)"\s*\)')


def _sources() -> list[Path]:
    return sorted(path for folder in PRODUCT_DIRS for path in (ROOT / folder).rglob("*.py"))


def _read_names() -> set[str]:
    names = set()
    for path in _sources():
        for match in _READ.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    return names


def _secret_names() -> set[str]:
    return {name for path in _sources() for name in _SECRET.findall(path.read_text())}


def _documented_names() -> set[str]:
    """The REGISTRY_* names in the first column of docs/configuration.md's table."""
    names = set()
    for line in (ROOT / "docs" / "configuration.md").read_text().splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`(REGISTRY_[A-Z0-9_]+)`", first_cell))
    return names


def _env_example_names() -> set[str]:
    return set(re.findall(r"^# (REGISTRY_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


READ = sorted(_read_names())
SECRETS = _secret_names()
DOCUMENTED = sorted(_documented_names())


def _is_read(name: str) -> bool:
    return name in READ or (name.endswith("_FILE") and name.removesuffix("_FILE") in SECRETS)


def test_settings_are_found():
    # settings.py, gunicorn.conf.py and client_socket.py all count.
    assert {"REGISTRY_GC_GRACE_PERIOD", "REGISTRY_WORKERS", "REGISTRY_HEADER_TIMEOUT"} <= set(READ)
    assert "REGISTRY_TOKEN_KEY" in SECRETS
    assert len(READ) > 50 and len(DOCUMENTED) > 50


@pytest.mark.parametrize("name", READ)
def test_setting_is_documented(name):
    assert name in DOCUMENTED, f"{name} is read but not in docs/configuration.md's table"
    assert re.search(rf"^# {name}[=_]", (ROOT / ".env.example").read_text(), re.M), f"{name} is not in .env.example"


@pytest.mark.parametrize("name", DOCUMENTED)
def test_documented_setting_exists(name):
    assert _is_read(name), f"docs/configuration.md documents {name}, which nothing reads"


def test_env_example_settings_exist():
    unknown = sorted(name for name in _env_example_names() if not _is_read(name))
    assert not unknown, f".env.example lists settings nothing reads: {unknown}"
