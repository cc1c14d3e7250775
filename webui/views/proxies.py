"""`/proxies/`: the proxy and group repositories the visitor may pull from, with their
upstream, TTL and cache hits and misses."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registry_api.auth.permissions import allowed_actions
from registry_api.models import GroupNamespace, ProxyNamespace
from registry_api.selectors.proxies import group_rows, proxy_rows

from ..access import identity_of


def _pullable(request: HttpRequest, names) -> set[str]:
    """Namespaces the visitor may pull from: their grants and public flags on the namespace
    (a repository in it stands for the namespace; per-repository grants do not count)."""
    identity = identity_of(request)
    return {name for name in names if "pull" in allowed_actions(identity, f"{name}/x")}


def proxy_list(request: HttpRequest) -> HttpResponse:
    proxies = _pullable(request, ProxyNamespace.objects.values_list("name", flat=True))
    groups = _pullable(request, GroupNamespace.objects.values_list("name", flat=True))
    return render(request, "webui/proxies.html", {
        "proxies": proxy_rows(names=proxies), "groups": group_rows(names=groups), "host": request.get_host(),
    })
