"""Endpoints for operators: liveness, readiness and Prometheus metrics (no registry auth)."""
from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET, require_safe

from storage_backends import get_storage

from ..edge import metrics

logger = logging.getLogger(__name__)


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


def _check_database() -> None:
    """Read a table migrate made, on a connection of its own: `SELECT 1` also succeeds on
    an empty or replaced SQLite file, and this worker's kept-alive connection may still
    hold the old file open while every new connection sees the new one."""
    probe = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
            if cursor.fetchone() is None:
                raise LookupError("no migrations recorded")
    finally:
        probe.close()


@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when the database holds our schema and blob storage takes a write; 503 otherwise."""
    checks = {}
    try:
        _check_database()
        checks["database"] = "ok"
    except Exception as exc:
        # One line without a traceback: a load balancer polls this every few seconds.
        logger.error("readiness: database not usable: %s: %s", type(exc).__name__, exc)
        checks["database"] = "unreachable"
    try:
        get_storage().check()
        checks["storage"] = "ok"
    except Exception as exc:
        logger.error("readiness: storage not writable: %s: %s", type(exc).__name__, exc)
        checks["storage"] = "not writable"
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
