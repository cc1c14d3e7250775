"""Endpoints for operators: liveness, readiness and Prometheus metrics (no registry auth)."""
from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET, require_safe

from ..edge import metrics
from ..services.health import readiness_checks


def _answer(request: HttpRequest, body: dict, status: int = 200) -> HttpResponse:
    """JSON for GET; the same status with no body for HEAD (load balancers probe with HEAD)."""
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type="application/json")
        response["Content-Length"] = "0"
        return response
    return JsonResponse(body, status=status)


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """200 while the process answers at all (liveness)."""
    return _answer(request, {"status": "ok"})


@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when the database holds our schema and blob storage takes a write; 503 otherwise."""
    checks = readiness_checks()
    ready = all(value == "ok" for value in checks.values())
    return _answer(request, {"status": "ok" if ready else "unavailable", **checks}, 200 if ready else 503)


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.REGISTRY_METRICS_TOKEN
    if token:
        return constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}")
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.REGISTRY_METRICS_ALLOWED_NETWORKS)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; 403 unless the caller's address is allowed or it sends the token."""
    if not settings.REGISTRY_METRICS_ENABLED:
        return HttpResponse(status=404)
    if not _metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")
