"""The systemd units in deploy/ carry the hardening the README promises, and the webhook
loop unit runs a command that exists with arguments it accepts (systemd-analyze, in
tests/e2e/test_deploy.py, checks the syntax but cannot know either)."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = ("registry.service", "registry-webhooks.service", "registry-housekeeping.service",
            "registry-replication.service")
LONG_RUNNING = ("registry.service", "registry-webhooks.service", "registry-replication.service")
HARDENING = {
    "User": "registry",
    "Group": "registry",
    "NoNewPrivileges": "true",
    "ProtectSystem": "strict",
    "ProtectHome": "true",
    "PrivateTmp": "true",
    "PrivateDevices": "true",
    "ProtectKernelTunables": "true",
    "ProtectKernelModules": "true",
    "ProtectControlGroups": "true",
    "RestrictSUIDSGID": "true",
    "LockPersonality": "true",
    "ReadWritePaths": "/var/lib/docker-registry-manager",
    "EnvironmentFile": "/etc/docker-registry-manager/registry.env",
    # The database and the keys 0600; blobs alone group-readable (storage_backends.filesystem).
    "UMask": "0077",
}


def _service_section(unit: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    section = ""
    for line in (DEPLOY / unit).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize("unit", SERVICES)
def test_every_service_is_hardened(unit):
    service = _service_section(unit)
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{unit}: expected {key}={value}, found {service.get(key)}"


@pytest.mark.parametrize("unit", LONG_RUNNING)
def test_long_running_services_restart_on_failure(unit):
    assert _service_section(unit)["Restart"] == ["on-failure"]


def test_the_webhook_unit_runs_the_loop():
    (exec_start,) = _service_section("registry-webhooks.service")["ExecStart"]
    name, *args = shlex.split(exec_start)[2:]  # after `<venv>/python manage.py`
    assert name == "deliver_webhooks" and "--loop" in args
    command = load_command_class(get_commands()[name], name)
    command.create_parser("manage.py", name).parse_args(args)  # exits on a bad argument


def _parses(name: str, args: list[str]) -> None:
    command = load_command_class(get_commands()[name], name)
    command.create_parser("manage.py", name).parse_args(args)  # exits on a bad argument


def test_the_replication_unit_and_compose_service_run_the_worker_loop():
    (exec_start,) = _service_section("registry-replication.service")["ExecStart"]
    name, *args = shlex.split(exec_start)[2:]
    assert name == "replicate" and "--once" not in args
    _parses(name, args)
    service = (DEPLOY / "compose.yaml").read_text().split("\n  replication:\n", 1)[1]
    command_line = next(line for line in service.splitlines() if line.strip().startswith("command:"))
    compose_args = [part.strip(' "') for part in command_line.split("[", 1)[1].rstrip("]").split(",")]
    assert compose_args[:3] == ["python", "manage.py", "replicate"] and "--once" not in compose_args
    _parses("replicate", compose_args[3:])
