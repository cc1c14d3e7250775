"""Webhook deliveries: queued in the database, sent outside the request, retried with backoff.

A delivery is claimed with a conditional UPDATE (only one process wins it), posted with an
HMAC-SHA256 signature of the body, and on failure rescheduled after base * 2**attempts
seconds until REGISTRY_WEBHOOK_MAX_ATTEMPTS. Sending happens in a background thread of the
process that queued it; `manage.py deliver_webhooks` (deploy/ timer) picks up whatever a
restart interrupted.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from .models import AuditEvent, Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

EVENTS = ("push", "delete")
# A claimed delivery is someone's for this long; a crashed sender's claim then lapses.
CLAIM_SECONDS = 60


def _hooks_for(event: AuditEvent):
    namespace = event.repository.split("/", 1)[0]
    wanted = Q(on_push=True) if event.action == "push" else Q(on_delete=True)
    scope = (
        Q(namespace__isnull=True, repository_name="")
        | Q(namespace__name=namespace)
        | Q(repository_name=event.repository)
    )
    return Webhook.objects.filter(wanted, scope, active=True)


def payload_of(event: AuditEvent, delivery_id: int | None = None) -> dict:
    return {
        "id": str(event.pk),
        "event": event.action,
        "timestamp": event.created_at.isoformat(),
        "repository": event.repository,
        "target": event.target,
        "actor": event.actor,
        "request_id": event.request_id,
        **{k: v for k, v in event.detail.items() if k in ("digest", "tag", "tags", "media_type", "size")},
    }


def enqueue(event: AuditEvent) -> list[WebhookDelivery]:
    """One pending delivery per matching webhook, then a sender thread in the background."""
    now = timezone.now()
    deliveries = [
        WebhookDelivery.objects.create(webhook=hook, event=event.action, payload=payload_of(event), next_attempt_at=now)
        for hook in _hooks_for(event)
    ]
    if deliveries and settings.REGISTRY_WEBHOOK_SEND_IN_BACKGROUND:
        _wake_sender()
    return deliveries


_sender_lock = threading.Lock()
_sender_wake = threading.Event()
_sender: threading.Thread | None = None


def _wake_sender() -> None:
    """One sender thread per process; it sleeps until the next retry is due."""
    global _sender
    with _sender_lock:
        if _sender is None or not _sender.is_alive():
            _sender = threading.Thread(target=_sender_loop, name="webhook-sender", daemon=True)
            _sender.start()
    _sender_wake.set()


def _sender_loop() -> None:
    try:
        while True:
            _sender_wake.clear()
            deliver_due()
            upcoming = (
                WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
                .order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
            )
            if upcoming is None:
                return
            wait = (upcoming - timezone.now()).total_seconds()
            if wait > settings.REGISTRY_WEBHOOK_BACKOFF_SECONDS * 2 ** settings.REGISTRY_WEBHOOK_MAX_ATTEMPTS:
                return  # far off: `manage.py deliver_webhooks` (the timer) will send it
            close_old_connections()
            _sender_wake.wait(timeout=max(wait, 0.05))
    except Exception:
        logger.exception("webhook sender stopped")
    finally:
        close_old_connections()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _claim(delivery: WebhookDelivery) -> bool:
    now = timezone.now()
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    )


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    body = json.dumps(delivery.payload, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "docker-registry-manager-webhook",
        "X-Registry-Event": delivery.event,
        "X-Registry-Delivery": str(delivery.pk),
    }
    if delivery.webhook.secret:
        headers["X-Registry-Signature"] = signature(delivery.webhook.secret, body)
    request = urllib.request.Request(delivery.webhook.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.REGISTRY_WEBHOOK_TIMEOUT) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))[:500]


def attempt(delivery: WebhookDelivery) -> None:
    """Send once; record the outcome and when to try again."""
    status_code, error = _post(delivery)
    delivery.attempts += 1
    delivery.last_status_code = status_code
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.last_error = ""
    elif delivery.attempts >= settings.REGISTRY_WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.last_error = error or f"HTTP {status_code}"
        logger.warning("webhook %s gave up on delivery %s: %s", delivery.webhook, delivery.pk, delivery.last_error)
    else:
        delivery.last_error = error or f"HTTP {status_code}"
        backoff = settings.REGISTRY_WEBHOOK_BACKOFF_SECONDS * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff)
    delivery.save()


def deliver_due(limit: int = 100) -> int:
    """Send every delivery whose time has come and that no other process claimed."""
    sent = 0
    due = WebhookDelivery.objects.select_related("webhook").filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
    ).order_by("next_attempt_at")[:limit]
    for delivery in list(due):
        if _claim(delivery):
            attempt(delivery)
            sent += 1
    return sent
