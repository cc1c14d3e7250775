"""What happened, for people and for other systems: the audit trail and webhooks.

Services call `events.record(...)` once a change is committed; the event is written to the
audit trail and, for pushes and deletes, queued for the matching webhooks, which are
delivered outside the request by `webhooks.deliver_due`.
"""
from __future__ import annotations

from .audit import record

__all__ = ["record"]
