"""What the dashboard shows, for the page and for its JSON refresh, from the selectors.

The figures are cached for REGISTRY_DASHBOARD_CACHE_SECONDS (default 5) per visibility
class: the key is the SQL of the visitor's repository queryset, so every superuser (and
everyone when access control is off) shares one entry, anonymous visitors another, and
users whose grants give the same repositories share theirs. Storage by namespace and the
deduplicated blob total take hundreds of milliseconds at 10,000 repositories, and the page
polls every 5 seconds: without the cache each open dashboard would recompute them at
every poll. The cache is Django's (per process by default, see CACHES in settings): each
gunicorn worker and each instance computes its own copy, so what a visitor sees is at
most that many seconds old; nothing needs invalidating across processes.
"""
from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from registry_api.lib.units import format_bytes
from registry_api.selectors.dashboard import pushes_per_day, recent_pushes, registry_summary, storage_by_namespace

from . import charts

KEY_PREFIX = "portal:dashboard:"


def visibility_key(repositories: QuerySet) -> str:
    """The cache key of everyone who sees exactly these repositories."""
    sql, params = repositories.query.sql_with_params()
    return KEY_PREFIX + hashlib.sha256(repr((sql, params)).encode()).hexdigest()[:40]


def _compute(repositories: QuerySet) -> dict:
    figures = {
        "summary": registry_summary(repositories=repositories),
        "usage": storage_by_namespace(repositories=repositories),
        "days": pushes_per_day(repositories=repositories),
        "recent": recent_pushes(repositories=repositories),
    }
    # Lets the page skip redrawing when a poll brings nothing new.
    figures["version"] = hashlib.sha256(repr(figures).encode()).hexdigest()[:16]
    return figures


def dashboard_figures(*, repositories: QuerySet) -> dict:
    """The dashboard's figures over `repositories`, at most the cache lifetime old."""
    lifetime = settings.REGISTRY_DASHBOARD_CACHE_SECONDS
    if lifetime <= 0:
        return _compute(repositories)
    key = visibility_key(repositories)
    figures = cache.get(key)
    if figures is None:
        figures = _compute(repositories)
        cache.set(key, figures, lifetime)
    return figures


def dashboard_context(*, repositories: QuerySet) -> dict:
    figures = dashboard_figures(repositories=repositories)
    return {
        **figures,
        "storage_bars": charts.bars([
            (u.namespace, u.bytes, format_bytes(u.bytes), f"{u.namespace}: {format_bytes(u.bytes)}")
            for u in figures["usage"]
        ]),
        "push_bars": charts.bars([
            (d.day.strftime("%d"), d.count, str(d.count),
             f"{d.day:%a %d %b}: {d.count} manifest{'' if d.count == 1 else 's'} pushed")
            for d in figures["days"]
        ]),
    }
