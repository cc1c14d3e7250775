"""What the two directions share: a rule, its run's log, the remote's client, and one
tag or digest as the unit that fails alone."""
from __future__ import annotations

from registry_api.oci.reference import is_digest_reference

from .client import RemoteClient
from .log import RunLog
from .models import Rule
from .rules import destination_name


class Copier:
    # What ends one artifact (the others go on); anything else is a bug and ends the run.
    errors: tuple[type[Exception], ...] = ()

    def __init__(self, rule: Rule, log: RunLog) -> None:
        self.rule = rule
        self.log = log
        self.client = RemoteClient(rule.remote)

    def reference(self, source: str, reference: str) -> None:
        """Copy what `reference` (a tag or a digest) names in repository `source`."""
        dest = destination_name(source, self.rule.destination_prefix)
        tag = "" if is_digest_reference(reference) else reference
        with self.log.failure_of(kind="manifest", repository=dest, tag=tag, digest="" if tag else reference,
                                 errors=self.errors):
            self.copy(source, dest, reference)

    def copy(self, source: str, dest: str, reference: str) -> None:
        raise NotImplementedError
