"""The dashboard `/` and the JSON it refreshes itself from (`/api/summary`)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string

from ..access import visible
from ..templatetags.portal import ago
from ..dashboard import dashboard_context


def home(request: HttpRequest) -> HttpResponse:
    """Figures, charts and recent pushes over what the visitor may pull."""
    context = dashboard_context(repositories=visible(request))
    return render(request, "webui/home.html", {**context, "host": request.get_host()})


def summary(request: HttpRequest) -> JsonResponse:
    """The dashboard's live figures; the page polls this every few seconds."""
    context = dashboard_context(repositories=visible(request))
    figures = context["summary"]
    return JsonResponse({
        **figures,
        "blob_bytes_text": filesizeformat(figures["blob_bytes"]),
        "recent": [
            {**push, "pushed_at": push["pushed_at"].isoformat(), "ago": ago(push["pushed_at"])}
            for push in context["recent"]
        ],
        # The charts are drawn once, by the server; the page swaps this markup in.
        "charts_html": render_to_string("webui/_charts.html", context, request=request),
    })
