"""Webhooks: matching by scope and event, signed JSON payloads, retries with backoff."""
from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.utils import timezone

from registry_api.models import Webhook, WebhookDelivery
from registry_api.events.webhooks import deliver_due
from registry_api.models import Namespace
from tests import builders
from tests.api.support import Registry

from .receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _retries(settings):
    settings.REGISTRY_WEBHOOK_BACKOFF_SECONDS = 30
    settings.REGISTRY_WEBHOOK_MAX_ATTEMPTS = 3


def push(client, name: str, tag: str, django_capture_on_commit_callbacks) -> builders.Image:
    image = builders.image(f"hook-{name}-{tag}", layer_count=1)
    with django_capture_on_commit_callbacks(execute=True):
        Registry(client).push_image(name, tag, image)
    return image


def test_push_and_delete_reach_matching_hooks_signed(client, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        team = Namespace.objects.create(name="team")
        Webhook.objects.create(name="team", url=receiver.url, secret="s3cret", namespace=team)
        Webhook.objects.create(name="other", url=receiver.url, namespace=Namespace.objects.create(name="other"))
        image = push(client, "team/app", "v1", django_capture_on_commit_callbacks)
        assert deliver_due() == 1
        (delivery,) = receiver.received
        payload = receiver.payloads()[0]
        assert payload["event"] == "push" and payload["repository"] == "team/app" and payload["target"] == "v1"
        assert payload["digest"] == image.manifest.digest and payload["tags"] == ["v1"]
        expected = "sha256=" + hmac.new(b"s3cret", delivery["body"], hashlib.sha256).hexdigest()
        assert delivery["headers"]["X-Registry-Signature"] == expected
        assert delivery["headers"]["X-Registry-Event"] == "push"
        with django_capture_on_commit_callbacks(execute=True):
            assert client.delete("/v2/team/app/manifests/v1").status_code == 202
        deliver_due()
        assert [p["event"] for p in receiver.payloads()] == ["push", "delete"]
        assert WebhookDelivery.objects.filter(status="delivered").count() == 2


def test_hook_on_one_repository_and_event_filter(client, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        push(client, "team/app", "v0", django_capture_on_commit_callbacks)  # creates the repository
        Webhook.objects.create(name="app", url=receiver.url, repository_name="team/app", on_push=False)
        push(client, "team/app", "v1", django_capture_on_commit_callbacks)
        push(client, "team/other", "v1", django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=True):
            client.delete("/v2/team/app/manifests/v1")
        deliver_due()
        assert [(p["event"], p["repository"]) for p in receiver.payloads()] == [("delete", "team/app")]


def test_failures_are_retried_with_backoff_then_given_up(client, django_capture_on_commit_callbacks):
    with Receiver(fail_first=10) as receiver:
        Webhook.objects.create(name="all", url=receiver.url)
        push(client, "team/app", "v1", django_capture_on_commit_callbacks)
        deliver_due()
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        assert 25 < wait <= 30
        assert deliver_due() == 0  # not due yet
        for expected_attempts, backoff in ((2, 60), (3, None)):
            WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
            deliver_due()
            delivery.refresh_from_db()
            assert delivery.attempts == expected_attempts
            if backoff:
                assert backoff - 5 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= backoff
        assert delivery.status == "failed" and len(receiver.received) == 3


def test_a_failed_first_attempt_is_delivered_on_retry(client, django_capture_on_commit_callbacks):
    with Receiver(fail_first=1) as receiver:
        Webhook.objects.create(name="all", url=receiver.url)
        push(client, "team/app", "v1", django_capture_on_commit_callbacks)
        deliver_due()
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        deliver_due()
        assert WebhookDelivery.objects.get().status == "delivered" and len(receiver.received) == 2
        assert receiver.received[0]["body"] == receiver.received[1]["body"]


def test_unreachable_endpoint_is_an_error_not_a_crash(client, django_capture_on_commit_callbacks):
    Webhook.objects.create(name="nowhere", url="http://127.0.0.1:9/hook")
    push(client, "team/app", "v1", django_capture_on_commit_callbacks)
    deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_error and delivery.last_status_code is None


def test_a_delivery_is_claimed_by_one_sender_only(client, django_capture_on_commit_callbacks):
    from registry_api.events.webhooks import _claim

    Webhook.objects.create(name="all", url="http://127.0.0.1:9/hook")
    push(client, "team/app", "v1", django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert _claim(delivery) and not _claim(delivery)
