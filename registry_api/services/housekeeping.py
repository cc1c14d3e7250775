"""One housekeeping pass, in order: abandoned uploads, retention policies, proxy cache
expiry, garbage collection, then webhook deliveries a restart interrupted. `manage.py housekeeping` runs it
(once from the systemd timer, or `--every 24h` as the compose deployment's service).

Garbage collection runs without `delete_untagged`: retention already deletes the manifests
only its deleted tags reached (services/retention.py), so their blobs are freed here, while
manifests pushed by digest on purpose (never tagged) are kept, as the reference registry
does. `gc --delete-untagged` remains a deliberate, manual step.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from ..events.webhooks import deliver_due
from ..proxy.expiry import ExpiryReport, proxy_expire
from .gc import GcReport, gc_run
from .retention import RetentionDecision, retention_apply
from .upload_purge import PurgeReport, upload_purge

logger = logging.getLogger(__name__)


@dataclass
class HousekeepingReport:
    purge: PurgeReport
    retention: list[RetentionDecision]
    expiry: ExpiryReport
    gc: GcReport
    deliveries: int


def housekeeping_run() -> HousekeepingReport:
    """Each step after the other; an exception stops the pass (the next one starts over)."""
    purge = upload_purge(older_than=timedelta(seconds=settings.REGISTRY_UPLOAD_PURGE_AGE))
    retention = retention_apply()
    # Proxy caches nobody pulled within their proxy's expiry: gc below frees their blobs.
    expiry = proxy_expire()
    gc = gc_run()
    deliveries = deliver_due()
    logger.info("housekeeping done sessions=%d tags=%d expired=%d blobs=%d bytes=%d deliveries=%d",
                len(purge.sessions), len(retention), len(expiry.tags), gc.blobs_deleted, gc.bytes_freed, deliveries)
    return HousekeepingReport(purge, retention, expiry, gc, deliveries)
