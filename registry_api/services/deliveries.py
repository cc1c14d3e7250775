"""Sending a webhook delivery again, by hand (the admin's action, the management API), with
an audit line saying who did and how it went: a resent payload reaches a receiver again,
which the delivery row alone would not show under anyone's name. Here rather than in
events/webhooks.py, which the audit trail itself imports."""
from __future__ import annotations

from ..events import record
from ..events.webhooks import attempt
from ..models import WebhookDelivery


def delivery_redeliver(*, delivery: WebhookDelivery) -> None:
    """Send it again now, whatever its state (staff retrying after fixing a receiver)."""
    delivery.status = WebhookDelivery.Status.PENDING
    attempt(delivery)
    record(action="permission", target=f"WebhookDelivery {delivery.pk} of {delivery.webhook}"[:300], detail={
        "change": "redelivered", "event": delivery.event, "status": delivery.status,
        "status_code": delivery.last_status_code})
