"""Cache hit and miss counters of proxy namespaces (admin, portal, /metrics).

A hit is a manifest or blob request answered from the cache (a tag revalidated upstream
with an unchanged digest, or served stale while upstream is down, counts as one); a miss
needed content from upstream. The database counters are one UPDATE each, best effort: a
pull never fails because its count could not be written.
"""
from __future__ import annotations

import logging

from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone
from prometheus_client import Counter

logger = logging.getLogger(__name__)

HIT, MISS, STALE = "hit", "miss", "stale"

OUTCOMES = Counter(
    "registry_proxy_requests_total", "Manifest and blob requests of proxy namespaces, by outcome.",
    ["proxy", "kind", "outcome"],
)


def proxy_record(*, proxy, kind: str, outcome: str, error: str = "") -> None:
    """Count one `kind` ("manifest" or "blob") request of `proxy` as HIT, MISS or STALE."""
    from ..models import ProxyNamespace

    OUTCOMES.labels(proxy.name, kind, outcome).inc()
    changes = {"cache_misses": F("cache_misses") + 1} if outcome == MISS else {"cache_hits": F("cache_hits") + 1}
    if error:
        changes.update(last_error=error[:500], last_error_at=timezone.now())
    try:
        ProxyNamespace.objects.filter(pk=proxy.pk).update(**changes)
    except DatabaseError:
        logger.warning("could not count a proxy %s for %s", outcome, proxy.name, exc_info=True)


def proxy_record_error(*, proxy, error: str) -> None:
    """Note why upstream failed, for the admin, when nothing was served from the cache."""
    from ..models import ProxyNamespace

    try:
        ProxyNamespace.objects.filter(pk=proxy.pk).update(last_error=error[:500], last_error_at=timezone.now())
    except DatabaseError:
        logger.warning("could not record a proxy error for %s", proxy.name, exc_info=True)
