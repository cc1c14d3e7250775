"""The portal's browser tests skip without Chromium or Playwright, but fail when CI says the
tools must be there (REGISTRY_E2E_REQUIRE_TOOLS=1): a lost browser must not pass silently."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.e2e.portal_browser import launch


@pytest.mark.parametrize("required, outcome", [("1", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_chromium(monkeypatch, required, outcome):
    monkeypatch.setenv("REGISTRY_E2E_REQUIRE_TOOLS", required)
    with pytest.raises(outcome, match="/nonexistent/chromium is not installed"):
        launch(chromium=Path("/nonexistent/chromium"))


@pytest.mark.parametrize("required, outcome", [("1", pytest.fail.Exception), ("0", pytest.skip.Exception)])
def test_a_missing_playwright(monkeypatch, required, outcome):
    monkeypatch.setenv("REGISTRY_E2E_REQUIRE_TOOLS", required)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # makes the import fail
    with pytest.raises(outcome, match="playwright Python package is not installed"):
        launch(chromium=Path(sys.executable))
