"""CI logs say where the portal's screenshots are: .ci/run prints the folder docs/testing.md
names and how many files it holds, on success and on failure alike (an EXIT trap)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_run_reports_the_screenshot_folder(tmp_path):
    script = (ROOT / ".ci" / "run").read_text()
    assert "trap report_screenshots EXIT" in script
    assert "test-artifacts/screenshots/" in (ROOT / "docs" / "testing.md").read_text()
    # Run the reporting part alone, against a folder with two screenshots.
    body = re.search(r"^report_screenshots\(\) \{.*?^\}", script, re.S | re.M).group(0)
    (tmp_path / "test-artifacts" / "screenshots").mkdir(parents=True)
    for name in ("a.png", "b.png", "notes.txt"):
        (tmp_path / "test-artifacts" / "screenshots" / name).write_bytes(b"x")
    out = subprocess.run(["bash", "-c", f'screenshots="$PWD/test-artifacts/screenshots"\n{body}\nreport_screenshots'],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out == f"portal screenshots: {tmp_path}/test-artifacts/screenshots (2 files)\n"
