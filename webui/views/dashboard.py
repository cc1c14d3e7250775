"""The dashboard `/` and the JSON it refreshes itself from (`/api/summary`)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse

from registry_api.lib.units import format_bytes

from ..access import visible
from ..dashboard import dashboard_context
from ..templatetags.portal import ago, short_digest


def home(request: HttpRequest) -> HttpResponse:
    """Figures, charts and recent pushes over what the visitor may pull."""
    context = dashboard_context(repositories=visible(request))
    return render(request, "webui/home.html", {**context, "host": request.get_host()})


def summary(request: HttpRequest) -> JsonResponse:
    """The dashboard's live figures; the page polls this every few seconds. Cheap: the
    figures come from the dashboard cache, and the page redraws only when `version` moves."""
    context = dashboard_context(repositories=visible(request))
    figures = context["summary"]
    return JsonResponse({
        **figures,
        "version": context["version"],
        "blob_bytes_text": format_bytes(figures["blob_bytes"]),
        "recent": [
            {**push, "pushed_at": push["pushed_at"].isoformat(), "ago": ago(push["pushed_at"]),
             "short_digest": short_digest(push["digest"]),
             # Rendered here so the script never spells the portal's URLs itself.
             "url": reverse("webui:repository", args=[push["repository"]])}
            for push in context["recent"]
        ],
        # The charts are drawn by the server; the page swaps this markup in.
        "charts_html": render_to_string("webui/_charts.html", context, request=request),
    })
