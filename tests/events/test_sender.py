"""The background sender of a serving process: nothing queued is stranded when the thread
decides to stop, and a process that exits first sends what it queued."""
from __future__ import annotations

import threading
import time

import pytest
from django.utils import timezone

from registry_api.events import webhooks
from registry_api.models import Webhook, WebhookDelivery

from .receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)  # the sender thread has its own connection


@pytest.fixture(autouse=True)
def sender(settings, monkeypatch):
    """A fresh sender per test, in the background as when serving."""
    settings.REGISTRY_WEBHOOK_SEND_IN_BACKGROUND = True
    fresh = webhooks._Sender()
    monkeypatch.setattr(webhooks, "_sender", fresh)
    yield fresh
    assert fresh.drain(timeout=10), "the sender thread did not stop"


def _queue(hook: Webhook, n: int) -> None:
    WebhookDelivery.objects.create(webhook=hook, event="push", payload={"n": n}, next_attempt_at=timezone.now())
    webhooks._wake_sender()


def _wait_for(receiver: Receiver, count: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_an_event_queued_as_the_sender_stops_is_still_sent(monkeypatch):
    """The race, made certain: the second delivery is queued (and the sender woken) after
    the thread found the queue empty and before it decides to stop."""
    with Receiver() as receiver:
        hook = Webhook.objects.create(name="all", url=receiver.url)
        late = threading.Event()

        def queue_while_stopping() -> None:
            if not late.is_set():
                late.set()
                _queue(hook, 2)

        monkeypatch.setattr(webhooks, "_before_stop_decision", queue_while_stopping)
        _queue(hook, 1)
        _wait_for(receiver, 2)
        assert late.is_set()
        assert sorted(p["n"] for p in receiver.payloads()) == [1, 2]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_stopped_sender_is_started_again(sender):
    with Receiver() as receiver:
        hook = Webhook.objects.create(name="all", url=receiver.url)
        _queue(hook, 1)
        _wait_for(receiver, 1)
        deadline = time.monotonic() + 10
        while sender._thread is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sender._thread is None  # nothing left to do: it stopped
        _queue(hook, 2)
        _wait_for(receiver, 2)
        assert [p["n"] for p in receiver.payloads()] == [1, 2]


def test_drain_waits_for_the_attempt_in_flight_then_stops(sender):
    with Receiver(delay_first=1) as receiver:
        hook = Webhook.objects.create(name="all", url=receiver.url)
        _queue(hook, 1)
        assert sender.drain(timeout=10)
        assert len(receiver.received) == 1 and sender._thread is None
