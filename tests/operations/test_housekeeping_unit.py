"""deploy/registry-housekeeping.service and the compose deployment's housekeeping service run
commands that exist, with arguments they accept (systemd-analyze, in
tests/e2e/test_deploy.py, cannot know a manage.py command)."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from django.core.management import get_commands, load_command_class

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _unit_commands() -> list[list[str]]:
    text = (DEPLOY / "registry-housekeeping.service").read_text()
    lines = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("ExecStart=")]
    return [shlex.split(line)[2:] for line in lines]  # after `<venv>/python manage.py`


def _compose_command() -> list[str]:
    service = (DEPLOY / "compose.yaml").read_text().split("\n  housekeeping:\n", 1)[1]
    command = json.loads(re.search(r"^    command: (\[.*\])$", service, re.M).group(1))
    assert command[:2] == ["python", "manage.py"]
    return command[2:]


def _parses(name: str, *args: str) -> None:
    command = load_command_class(get_commands()[name], name)
    command.create_parser("manage.py", name).parse_args(list(args))  # exits on a bad argument


def test_the_timer_runs_one_housekeeping_pass():
    assert _unit_commands() == [["housekeeping"]]
    _parses("housekeeping")


def test_compose_runs_the_same_housekeeping_daily():
    assert _compose_command() == ["housekeeping", "--every", "24h"]
    _parses(*_compose_command())
