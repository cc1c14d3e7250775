"""Portal pages: read through selectors, never through /v2/ views."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registry_api.selectors import registry_summary


def home(request: HttpRequest) -> HttpResponse:
    """The front page: what is stored and how to push to it."""
    return render(request, "webui/home.html", {"summary": registry_summary(), "host": request.get_host()})
