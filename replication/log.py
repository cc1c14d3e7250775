"""The execution log of one run: a row per artifact, the run's totals kept as they go, and
the job's claim renewed with each (a long pass keeps it while it makes progress)."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from .models import Artifact, Run
from .queue import job_renew

logger = logging.getLogger(__name__)

State = Artifact.State


class RunLog:
    def __init__(self, run: Run) -> None:
        self.run = run

    def note(self, *, kind: str, repository: str, state: str, digest: str = "", tag: str = "",
             size: int = 0, started: float | None = None, error: str = "") -> None:
        duration = int((time.monotonic() - started) * 1000) if started is not None else 0
        job_renew(self.run.job)  # progress: the claim holds while artifacts keep coming
        Artifact.objects.create(run=self.run, kind=kind, repository=repository[:255], digest=digest, tag=tag[:200],
                                state=state, bytes=size, duration_ms=duration, error=error[:500])
        if state == State.FAILED:
            self.run.artifacts_failed += 1
            logger.warning("replication %s %s %s@%s failed: %s", self.run.job.rule.name, kind, repository,
                           digest or tag, error)
        elif state == State.SKIPPED:
            self.run.artifacts_skipped += 1
        else:
            self.run.artifacts_copied += 1
            self.run.bytes_sent += size
            if kind != "blob":
                logger.info("replication %s %s %s %s@%s", self.run.job.rule.name, state, kind, repository,
                            digest or tag)

    @contextmanager
    def failure_of(self, *, kind: str, repository: str, digest: str = "", tag: str = "",
                   errors: tuple[type[Exception], ...]):
        """Run the block; an exception of `errors` is logged as this artifact's failure and
        ends only this artifact, not the run."""
        started = time.monotonic()
        try:
            yield
        except errors as exc:
            self.note(kind=kind, repository=repository, digest=digest, tag=tag, state=State.FAILED,
                      started=started, error=str(exc) or type(exc).__name__)
