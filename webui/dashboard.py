"""What the dashboard page draws from the cached figures (`registry_api.selectors.dashboard`):
the bars of its two charts. Its live figures come from the management API's summary."""
from __future__ import annotations

from django.db.models import QuerySet

from registry_api.lib.units import format_bytes
from registry_api.selectors.dashboard import dashboard_figures

from . import charts


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
