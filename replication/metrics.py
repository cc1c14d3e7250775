"""Prometheus figures of replication, read from the execution log when /metrics is
scraped (the worker is a process of its own; the log is what every process shares)."""
from __future__ import annotations

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .models import Job, Run


class ReplicationFigures:
    def collect(self):
        runs = Run.objects.aggregate(
            count=Count("id"), failed=Count("id", filter=Q(succeeded=False)), bytes=Sum("bytes_sent"),
            copied=Sum("artifacts_copied"), failures=Sum("artifacts_failed"),
        )
        yield CounterMetricFamily("registry_replication_runs", "Replication runs finished.", value=runs["count"])
        yield CounterMetricFamily("registry_replication_failed_runs", "Replication runs with a failure.",
                                  value=runs["failed"])
        yield CounterMetricFamily("registry_replication_bytes", "Blob and manifest bytes replicated.",
                                  value=runs["bytes"] or 0)
        yield CounterMetricFamily("registry_replication_artifacts", "Blobs and manifests replicated.",
                                  value=runs["copied"] or 0)
        yield CounterMetricFamily("registry_replication_artifact_failures", "Artifacts that failed to replicate.",
                                  value=runs["failures"] or 0)
        oldest = Job.objects.filter(status__in=(Job.Status.PENDING, Job.Status.RUNNING)).aggregate(
            at=Min("created_at"))["at"]
        lag = (timezone.now() - oldest).total_seconds() if oldest else 0
        yield GaugeMetricFamily("registry_replication_lag_seconds",
                                "Age of the oldest replication job not done yet (0 = in step).", value=lag)
