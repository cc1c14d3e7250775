"""Every REGISTRY_* setting read in settings.py is in README.md's table and in .env.example."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(set(re.findall(r'(?:env\.\w+|secret)\("(REGISTRY_[A-Z0-9_]+)"',
                              (ROOT / "registry_project" / "settings.py").read_text())))


def test_settings_are_found():
    assert "REGISTRY_GC_GRACE_PERIOD" in NAMES and len(NAMES) > 20


@pytest.mark.parametrize("name", NAMES)
def test_setting_is_documented(name):
    assert f"`{name}" in (ROOT / "README.md").read_text(), f"{name} is not in README.md's configuration table"
    assert re.search(rf"^# {name}[=_]", (ROOT / ".env.example").read_text(), re.M), f"{name} is not in .env.example"
