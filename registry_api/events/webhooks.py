"""Webhook deliveries: queued in the database, sent outside the request, retried with backoff.

A delivery is claimed with a conditional UPDATE (only one process wins it), posted with an
HMAC-SHA256 signature of the body, and on failure rescheduled after base * 2**attempts
seconds until REGISTRY_WEBHOOK_MAX_ATTEMPTS. Sending happens in a background thread of the
process that queued it (at exit, a process first lets that thread send what is due);
`manage.py deliver_webhooks --loop` (deploy/registry-webhooks.service) sends every retry
whichever process queued it, including those a restart or an exiting command left behind.
"""
from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import secrets
import threading
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from ..db.precompiled import Precompiled
from ..models import AuditEvent, Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

EVENTS = ("push", "delete")
# A claimed delivery is someone's for this long; a crashed sender's claim then lapses.
CLAIM_SECONDS = 60


def _hooks(action: str) -> Precompiled:
    """The active webhooks an event of `action` goes to: global, of its namespace, or of its
    repository. Compiled once (precompiled.py): every push and delete asks."""
    wanted = Q(on_push=True) if action == "push" else Q(on_delete=True)
    return Precompiled(
        lambda namespace, repository: Webhook.objects.filter(
            wanted,
            Q(namespace__isnull=True, repository_name="") | Q(namespace__name=namespace) | Q(repository_name=repository),
            active=True,
        ).order_by("pk"),
        "namespace", "repository",
    )


_HOOKS = {action: _hooks(action) for action in EVENTS}


def _hooks_for(event: AuditEvent) -> list[Webhook]:
    return _HOOKS[event.action].all(namespace=event.repository.split("/", 1)[0], repository=event.repository)


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


class _Sender:
    """The one background sender thread of a process, started on demand.

    `wake` and the thread's decision to stop happen under one lock, and the thread stops
    only if nobody woke it since it last looked at the queue: an event queued just as the
    thread finds nothing to do is either seen by that thread or starts a new one. (Checking
    `is_alive()` instead stranded it: the old thread still looked alive, then exited.)
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._woken = False
        self._draining = False
        self._atexit_registered = False

    def wake(self) -> None:
        with self._lock:
            self._woken = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
                self._thread.start()
                if not self._atexit_registered:
                    # A management command (retention, a shell) exits right after queueing:
                    # send its first attempts before the interpreter kills daemon threads.
                    atexit.register(self.drain)
                    self._atexit_registered = True
            self._lock.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Let the thread finish what is due now, then stop (retries are left to the
        `deliver_webhooks --loop` service); False if it was still busy at the timeout."""
        with self._lock:
            self._draining = True
            thread = self._thread
            self._lock.notify_all()
        if thread is None:
            return True
        thread.join(settings.REGISTRY_WEBHOOK_TIMEOUT + 5 if timeout is None else timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    self._woken = False
                deliver_due()
                wait = None if self._draining else _seconds_to_next_retry()
                close_old_connections()
                _before_stop_decision()
                with self._lock:
                    if self._woken:
                        continue
                    if wait is None or self._draining:
                        self._thread = None
                        return
                    self._lock.wait(timeout=wait)
        except Exception:
            logger.exception("webhook sender stopped")
            with self._lock:
                self._thread = None
        finally:
            close_old_connections()


def _before_stop_decision() -> None:
    """Hook for tests: runs between looking at the queue and deciding whether to stop."""


def _seconds_to_next_retry() -> float | None:
    """How long to sleep until the next pending delivery, or None when there is none soon
    (the `deliver_webhooks --loop` service and the timer send those)."""
    upcoming = (
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    )
    if upcoming is None:
        return None
    wait = (upcoming - timezone.now()).total_seconds()
    if wait > settings.REGISTRY_WEBHOOK_BACKOFF_SECONDS * 2 ** settings.REGISTRY_WEBHOOK_MAX_ATTEMPTS:
        return None
    return max(wait, 0.05)


_sender = _Sender()


def _wake_sender() -> None:
    _sender.wake()


def drain(timeout: float | None = None) -> bool:
    """Wait (briefly) for this process's background sender to send what is due now."""
    return _sender.drain(timeout)


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


def webhook_secret_apply(*, webhook: Webhook, new_secret: str = "", unsigned: bool = False, created: bool) -> str:
    """Set the secret as staff asked (the admin's form, the management API): a new one, none
    (`unsigned`), or for a new hook without either a generated one, returned to be shown
    once; "" otherwise. The caller saves the hook."""
    if unsigned:
        webhook.secret = ""
    elif new_secret:
        webhook.secret = new_secret
    elif created:
        webhook.secret = secrets.token_urlsafe(32)
        return webhook.secret
    return ""
