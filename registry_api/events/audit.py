"""Recording events: one audit row each, and webhook deliveries for pushes and deletes."""
from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

from ..db.precompiled import PrecompiledInsert
from ..edge.requestlog import current_request_id
from ..models import AuditEvent
from .context import current_actor

logger = logging.getLogger(__name__)

# One row per push and delete (precompiled.py says why).
_NEW_EVENT = PrecompiledInsert(AuditEvent)

# Sent with `event=` once a push or delete is committed: how other apps react to changes
# within seconds (replication/triggers.py) without this package knowing them.
committed = Signal()


def record(*, action: str, repository: str = "", target: str = "", detail: dict | None = None,
           actor: str | None = None) -> AuditEvent:
    """Write the event; queue webhooks once the surrounding transaction commits."""
    from . import webhooks  # webhooks imports models only; kept here to avoid a cycle

    def text(value: str, limit: int) -> str:
        # PostgreSQL text cannot hold NUL; a name a client made up may carry one.
        return value.replace("\x00", "")[:limit]

    who = current_actor()
    event = _NEW_EVENT.create(
        action=action,
        actor=text(actor if actor is not None else who.name, 150),
        client_address=who.client_address[:64],
        request_id=current_request_id()[:64],
        repository=text(repository, 255),
        target=text(target, 300),
        detail=detail or {},
    )
    if action in webhooks.EVENTS and repository:
        transaction.on_commit(lambda: webhooks.enqueue(event))
        if committed.receivers:
            transaction.on_commit(lambda: committed.send(sender=AuditEvent, event=event))
    return event
