"""The replication app: its event trigger and its /metrics figures are connected here."""
from __future__ import annotations

from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    name = "replication"
    verbose_name = "Replication"

    def ready(self) -> None:
        from registry_api.edge import metrics
        from registry_api.events.audit import committed

        from .metrics import ReplicationFigures
        from .triggers import on_event

        committed.connect(on_event, dispatch_uid="replication-trigger")
        if not any(isinstance(c, ReplicationFigures) for c in metrics.EXTRA_COLLECTORS):
            metrics.EXTRA_COLLECTORS.append(ReplicationFigures())
