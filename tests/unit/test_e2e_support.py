"""tests/e2e/support.py: a missing client skips locally and fails on CI (.ci/run sets
REGISTRY_E2E_REQUIRE_TOOLS=1), so a CI machine without one cannot pass silently."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.support import REQUIRE_TOOLS_VARIABLE, require_tool, unavailable

MISSING = "no-such-client-on-any-machine"


def test_a_missing_tool_skips_by_default(monkeypatch):
    monkeypatch.delenv(REQUIRE_TOOLS_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match=MISSING):
        require_tool(MISSING)


@pytest.mark.parametrize("value", ["", "0"])
def test_an_empty_or_zero_setting_still_skips(monkeypatch, value):
    monkeypatch.setenv(REQUIRE_TOOLS_VARIABLE, value)
    with pytest.raises(pytest.skip.Exception):
        unavailable("dockerd needs root")


def test_a_missing_tool_fails_when_tools_are_required(monkeypatch):
    monkeypatch.setenv(REQUIRE_TOOLS_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match=MISSING):
        require_tool(MISSING)


def test_a_present_tool_is_returned_with_its_path(monkeypatch):
    monkeypatch.setenv(REQUIRE_TOOLS_VARIABLE, "1")
    assert require_tool("sh").endswith("/sh")


def test_ci_requires_the_tools():
    script = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert f"export {REQUIRE_TOOLS_VARIABLE}=1" in script
