"""The dashboard `/`; its live figures are the management API's `/api/v1/summary/`."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..access import visible
from ..dashboard import dashboard_context


def home(request: HttpRequest) -> HttpResponse:
    """Figures, charts and recent pushes over what the visitor may pull."""
    context = dashboard_context(repositories=visible(request))
    return render(request, "webui/home.html", {**context, "host": request.get_host()})
