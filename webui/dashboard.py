"""What the dashboard shows, for the page and for its JSON refresh, from the selectors."""
from __future__ import annotations

from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat

from registry_api.selectors.dashboard import pushes_per_day, recent_pushes, registry_summary, storage_by_namespace

from . import charts


def dashboard_context(*, repositories: QuerySet) -> dict:
    usage = storage_by_namespace(repositories=repositories)
    days = pushes_per_day(repositories=repositories)
    return {
        "summary": registry_summary(repositories=repositories),
        "storage_chart": charts.horizontal_bars([(u.namespace, u.bytes, filesizeformat(u.bytes)) for u in usage]),
        "push_chart": charts.columns([(d.day.strftime("%d"), d.count, str(d.count)) for d in days]),
        "push_days": days,
        "recent": recent_pushes(repositories=repositories),
    }
