"""deploy/registry-housekeeping.service runs commands that exist, with arguments they accept
(systemd-analyze, in tests/e2e/test_deploy.py, cannot know a manage.py command)."""
from __future__ import annotations

import shlex
from pathlib import Path

from django.core.management import get_commands, load_command_class

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "registry-housekeeping.service"


def _commands() -> list[list[str]]:
    lines = [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith("ExecStart=")]
    return [shlex.split(line)[2:] for line in lines]  # after `<venv>/python manage.py`


def test_every_step_is_a_manage_py_command_with_valid_arguments():
    steps = _commands()
    assert [step[0] for step in steps] == ["retention", "proxy_expire", "purge_uploads", "gc", "deliver_webhooks"]
    for name, *args in steps:
        command = load_command_class(get_commands()[name], name)
        command.create_parser("manage.py", name).parse_args(args)  # exits on a bad argument

