"""Webhooks from a running server: sent outside the request, retried after a failure, signed."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from tests import builders
from tests.events.receiver import Receiver

from .conftest import _running_registry
from .support import skopeo_push

pytestmark = pytest.mark.e2e


def test_push_is_delivered_after_a_failed_attempt(tmp_path):
    image = builders.image("webhook-e2e", layer_count=1)
    layout = builders.image_layout(tmp_path / "src", "v1", image)
    with Receiver(fail_first=1, delay_first=4) as receiver, _running_registry(
        tmp_path / "registry", auth=False, REGISTRY_WEBHOOK_BACKOFF_SECONDS="0.5"
    ) as registry:
        registry.manage("shell", "-c", (
            "from registry_api.events.models import Webhook; "
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
            "from registry_api.events.models import WebhookDelivery as D; d = D.objects.get(); "
            "print(d.status, d.attempts, d.last_status_code)"
        ))
        assert status.split() == ["delivered", "2", "204"]
