"""Prometheus metrics: request counters fed by the request log, and stored totals read
from the database at scrape time (so every worker and instance reports the same truth),
garbage collection runs included (`record_gc_run`: `gc` runs in a process of its own).

Under gunicorn the counters of all workers are summed through prometheus-client's
multiprocess mode: deploy/gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before any
worker imports this module. Without it (tests, runserver) the process registry is used.
"""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter(
    "registry_http_requests_total", "HTTP requests answered, by route, method and status.",
    ["route", "method", "status"],
)
DURATION = Histogram(
    "registry_http_request_duration_seconds", "Time to produce the response (streams excluded).",
    ["route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
)
BYTES_IN = Counter("registry_http_received_bytes_total", "Request body bytes received (uploads, manifests).", ["route"])
BYTES_OUT = Counter("registry_http_sent_bytes_total", "Response body bytes sent (pulls).", ["route"])


def observe_request(route: str, method: str, status: int, seconds: float, bytes_in: int, bytes_out: int) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    DURATION.labels(route).observe(seconds)
    if bytes_in:
        BYTES_IN.labels(route).inc(bytes_in)
    if bytes_out:
        BYTES_OUT.labels(route).inc(bytes_out)


def record_gc_run(report, seconds: float) -> None:
    """Keep a swept run's figures in the database (services/gc/sweep.py calls this once per run)."""
    from ..models import GcRun

    if report.dry_run:
        return
    GcRun.objects.create(
        manifests_deleted=report.manifests_deleted, links_removed=report.links_removed,
        blobs_deleted=report.blobs_deleted, bytes_freed=report.bytes_freed, duration_seconds=seconds,
    )


def _gc_runs():
    from django.db.models import Count, Max, Sum

    from ..models import GcRun

    runs = GcRun.objects.aggregate(
        count=Count("id"), blobs=Sum("blobs_deleted"), manifests=Sum("manifests_deleted"),
        bytes=Sum("bytes_freed"), last=Max("finished_at"),
    )
    yield CounterMetricFamily("registry_gc_runs", "Garbage collections that swept (dry runs excluded).",
                              value=runs["count"])
    yield CounterMetricFamily("registry_gc_deleted_blobs", "Blobs deleted by garbage collection.",
                              value=runs["blobs"] or 0)
    yield CounterMetricFamily("registry_gc_deleted_manifests", "Manifests deleted by garbage collection.",
                              value=runs["manifests"] or 0)
    yield CounterMetricFamily("registry_gc_freed_bytes", "Bytes freed by garbage collection.",
                              value=runs["bytes"] or 0)
    yield GaugeMetricFamily("registry_gc_last_run_timestamp_seconds", "When the last sweeping collection ended.",
                            value=runs["last"].timestamp() if runs["last"] else 0)


class StoredContent:
    """Totals from the metadata database, computed when Prometheus scrapes."""

    def collect(self):
        from django.db.models import Count, Sum

        from ..models import Blob, Manifest, Repository, Tag, Upload

        blobs = Blob.objects.aggregate(count=Count("id"), size=Sum("size"))
        yield GaugeMetricFamily("registry_blobs", "Blobs stored (each once, whatever links it).", value=blobs["count"])
        yield GaugeMetricFamily("registry_blob_bytes", "Bytes of stored blobs, deduplicated.", value=blobs["size"] or 0)
        yield GaugeMetricFamily("registry_repositories", "Repositories.", value=Repository.objects.count())
        yield GaugeMetricFamily("registry_manifests", "Manifests.", value=Manifest.objects.count())
        yield GaugeMetricFamily("registry_tags", "Tags.", value=Tag.objects.count())
        yield GaugeMetricFamily("registry_uploads_in_progress", "Upload sessions started and not finished.",
                                value=Upload.objects.count())
        yield from _gc_runs()


# Collectors other apps add at startup (replication/apps.py): read at scrape time like
# StoredContent, so a worker process of their own needs no shared counters.
EXTRA_COLLECTORS: list = []


def render() -> bytes:
    """The text exposition of every worker's counters plus the stored totals."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        from ..proxy.stats import OUTCOMES

        for collector in (REQUESTS, DURATION, BYTES_IN, BYTES_OUT, OUTCOMES):
            registry.register(collector)
    registry.register(StoredContent())
    for collector in EXTRA_COLLECTORS:
        registry.register(collector)
    return generate_latest(registry)
