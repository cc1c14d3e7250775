"""Portal pages: read through selectors, never through /v2/ views."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registry_api.auth.credentials import ANONYMOUS, Identity
from registry_api.auth.permissions import visible_repositories
from registry_api.selectors import registry_summary


def home(request: HttpRequest) -> HttpResponse:
    """The front page: what the visitor may see, and how to push to it."""
    identity = Identity(request.user, "session") if request.user.is_authenticated else ANONYMOUS
    summary = registry_summary(repositories=visible_repositories(identity))
    return render(request, "webui/home.html", {"summary": summary, "host": request.get_host()})
