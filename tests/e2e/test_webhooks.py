"""Webhooks from running processes: sent outside the request, retried after a failure, signed;
sent before a command exits; retries left by a restart sent by the `--loop` service."""
from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time

import pytest

from tests import builders
from tests.events.receiver import Receiver

from .conftest import REPO_ROOT, _running_registry
from .support import skopeo_push

pytestmark = pytest.mark.e2e


def test_push_is_delivered_after_a_failed_attempt(tmp_path):
    image = builders.image("webhook-e2e", layer_count=1)
    layout = builders.image_layout(tmp_path / "src", "v1", image)
    with Receiver(fail_first=1, delay_first=4) as receiver, _running_registry(
        tmp_path / "registry", auth=False, REGISTRY_WEBHOOK_BACKOFF_SECONDS="0.5"
    ) as registry:
        registry.manage("shell", "-c", (
            "from registry_api.models import Webhook; "
            f"Webhook.objects.create(name='ci', url='{receiver.url}', secret='e2e-secret')"
        ))
        started = time.monotonic()
        skopeo_push(f"oci:{layout}:v1", f"docker://{registry.host}/hooks/app:v1")
        pushed = time.monotonic()
        deadline = time.monotonic() + 30
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.received) == 2, registry.log.read()[-3000:]
        first, second = receiver.received
        assert first["body"] == second["body"]
        payload = json.loads(second["body"])
        assert payload["event"] == "push" and payload["repository"] == "hooks/app"
        assert payload["digest"] == image.manifest.digest
        expected = "sha256=" + hmac.new(b"e2e-secret", second["body"], hashlib.sha256).hexdigest()
        assert second["headers"]["X-Registry-Signature"] == expected
        # The push did not wait for the slow receiver (4 s on its first delivery).
        assert pushed - started < 4
        status = registry.manage("shell", "-v", "0", "-c", (
            "from registry_api.models import WebhookDelivery as D; d = D.objects.get(); "
            "print(d.status, d.attempts, d.last_status_code)"
        ))
        assert status.split() == ["delivered", "2", "204"]


def _wait_until(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_a_command_sends_its_deliveries_before_it_exits(tmp_path):
    """`manage.py retention` deletes tags and exits at once: the deletes' first attempts go
    out before the interpreter stops, even to a slow receiver."""
    image = builders.image("retention-hook", layer_count=1)
    layout = builders.image_layout(tmp_path / "src", "v1", image)
    with Receiver(delay_first=1) as receiver, _running_registry(tmp_path / "registry", auth=False) as registry:
        for tag in ("old-1", "old-2", "current"):
            skopeo_push(f"oci:{layout}:v1", f"docker://{registry.host}/hooks/app:{tag}")
        registry.manage("shell", "-c", (
            "from registry_api.models import Webhook; from registry_api.models import Namespace, RetentionPolicy; "
            f"Webhook.objects.create(name='ci', url='{receiver.url}', on_push=False); "
            "RetentionPolicy.objects.create(namespace=Namespace.objects.get_or_create(name='hooks')[0], "
            "tag_pattern='old-.*', keep_last=0)"
        ))
        registry.manage("retention")
        # No waiting: the command has exited, so whatever it sent has arrived.
        assert sorted(p["target"] for p in receiver.payloads()) == ["old-1", "old-2"]
        assert {p["event"] for p in receiver.payloads()} == {"delete"}


def test_the_loop_service_sends_the_retry_a_restart_left(tmp_path):
    """The first attempt fails; the server stops before the retry is due. The retry belongs
    to no process any more until `deliver_webhooks --loop` (registry-webhooks.service)."""
    image = builders.image("webhook-loop", layer_count=1)
    layout = builders.image_layout(tmp_path / "src", "v1", image)
    with Receiver(fail_first=1) as receiver:
        with _running_registry(tmp_path / "registry", auth=False, REGISTRY_WEBHOOK_BACKOFF_SECONDS="2") as registry:
            registry.manage("shell", "-c", (
                "from registry_api.models import Webhook; "
                f"Webhook.objects.create(name='ci', url='{receiver.url}')"
            ))
            skopeo_push(f"oci:{layout}:v1", f"docker://{registry.host}/hooks/app:v1")
            assert _wait_until(lambda: len(receiver.received) == 1)
        time.sleep(3)  # the retry is due now, and nobody is sending
        assert len(receiver.received) == 1
        loop = subprocess.Popen(
            [sys.executable, "manage.py", "deliver_webhooks", "--loop", "--interval", "0.2"],
            cwd=REPO_ROOT, env=registry.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            assert _wait_until(lambda: len(receiver.received) == 2), "the loop did not send the retry"
        finally:
            loop.send_signal(signal.SIGTERM)
            output, _ = loop.communicate(timeout=30)
        assert loop.returncode == 0, output  # stopped cleanly, as systemd stops it
    assert receiver.received[0]["body"] == receiver.received[1]["body"]
    status = registry.manage("shell", "-v", "0", "-c", (
        "from registry_api.models import WebhookDelivery as D; d = D.objects.get(); "
        "print(d.status, d.attempts)"
    ))
    assert status.split() == ["delivered", "2"]
