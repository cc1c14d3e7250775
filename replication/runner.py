"""Running one claimed job: a Run row, the copier of its direction, the audit event.

A full pass walks the rule's repositories and tags: for a push rule the local ones, for
a pull rule those listed (or, for globs, the remote's catalog) and the remote's tags.
Each tag is one artifact: a failure is logged for it and the pass goes on; the run then
counts as failed and the job is retried, resending nothing that arrived.
"""
from __future__ import annotations

import logging

from django.utils import timezone

from registry_api import events
from registry_api.events.context import set_actor

from .client import RemoteError
from .log import RunLog
from .models import Job, Rule, Run
from .pull import PullCopier
from .push import PushCopier, local_repositories, local_tags
from .queue import job_finish
from .rules import is_literal, repository_matches, tag_matcher

logger = logging.getLogger(__name__)


def actor_name(rule: Rule) -> str:
    """Who the audit trail names for what a rule writes here; also how the event trigger
    recognises (and does not bounce back) what came from that remote."""
    return f"replication:{rule.remote.name}"


def _sources(rule: Rule, copier, only: str = "") -> list[str]:
    """The repositories of a full pass: `only`, when the pass is of one repository; else
    local ones for a push rule, and for a pull rule those listed or (for globs) the
    remote's catalog."""
    if only:
        return [only]
    globs = rule.globs
    if rule.direction == Rule.Direction.PUSH:
        return [n for n in local_repositories() if repository_matches(n, globs)]
    if all(is_literal(g) for g in globs):
        return globs
    return [n for n in copier.client.catalog() if repository_matches(n, globs)]


def _tags(rule: Rule, copier, repository: str) -> list[str]:
    wanted = tag_matcher(rule.tag_filter)
    found = local_tags(repository) if rule.direction == Rule.Direction.PUSH else sorted(copier.client.tags(repository))
    return [tag for tag in found if wanted(tag)]


def _execute(job: Job, log: RunLog) -> None:
    rule = job.rule
    copier = (PushCopier if rule.direction == Rule.Direction.PUSH else PullCopier)(rule, log)
    if job.kind == Job.Kind.DELETE:
        copier.delete(job.repository, job.reference)
    elif job.kind == Job.Kind.COPY:
        copier.reference(job.repository, job.reference)
    else:
        for repository in _sources(rule, copier, job.repository):
            tags: list[str] | None = None
            # A repository whose tags cannot be listed fails alone; the pass goes on.
            with log.failure_of(kind="tags", repository=repository, errors=(RemoteError,)):
                tags = _tags(rule, copier, repository)
            if tags is None:
                continue  # and nothing is pruned on the strength of a list we do not have
            for tag in tags:
                copier.reference(repository, tag)
            if rule.replicate_deletes:
                with log.failure_of(kind="tags", repository=repository, errors=(RemoteError,)):
                    copier.prune(repository, tags)


def job_run(job: Job) -> Run:
    """Run a claimed job once and settle it (done, retry later, or failed for good)."""
    rule = job.rule
    set_actor(actor_name(rule), "")
    run = Run.objects.create(job=job)
    log = RunLog(run)
    try:
        _execute(job, log)
    except RemoteError as exc:  # the remote could not even be listed or reached
        run.error = str(exc)[:500]
    except Exception:
        logger.exception("replication job %s stopped", job.pk)
        run.error = "internal error; see the worker's log"
    run.succeeded = not run.error and not run.artifacts_failed
    run.finished_at = timezone.now()
    run.save()
    error = run.error or (f"{run.artifacts_failed} artifact(s) failed" if run.artifacts_failed else "")
    job_finish(job, succeeded=run.succeeded, error=error)
    events.record(
        action="replication", repository=job.repository, target=rule.name[:300], actor=actor_name(rule),
        detail={"run": run.pk, "job": job.pk, "direction": rule.direction, "kind": job.kind,
                "reference": job.reference, "succeeded": run.succeeded, "copied": run.artifacts_copied,
                "skipped": run.artifacts_skipped, "failed": run.artifacts_failed, "bytes": run.bytes_sent,
                "error": error},
    )
    logger.info("replication run %s rule=%s job=%s %s copied=%d skipped=%d failed=%d bytes=%d", run.pk, rule.name,
                job.pk, "ok" if run.succeeded else "failed", run.artifacts_copied, run.artifacts_skipped,
                run.artifacts_failed, run.bytes_sent)
    return run
