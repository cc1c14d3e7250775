"""What the portal shows of replication for one repository: the rules that cover it, with
their remote and their last run."""
from __future__ import annotations

from dataclasses import dataclass

from .models import Job, Rule, Run
from .rules import repository_matches


@dataclass(frozen=True)
class RuleRow:
    rule: Rule
    source: str  # the repository's name as the rule's source sees it
    last_run: Run | None
    waiting: int  # jobs of this rule and repository not done yet


def rule_source(rule: Rule, name: str) -> str | None:
    """The source repository `name` is replicated from or to by `rule`, or None if the
    rule does not cover it: a push rule's source is the name; a pull rule writes
    `<prefix>/<source>` here."""
    if rule.direction == Rule.Direction.PUSH:
        return name if repository_matches(name, rule.globs) else None
    prefix = rule.destination_prefix.strip().strip("/")
    if prefix and not name.startswith(prefix + "/"):
        return None
    source = name[len(prefix) + 1:] if prefix else name
    return source if repository_matches(source, rule.globs) else None


def rules_covering(name: str) -> list[RuleRow]:
    rows = []
    for rule in Rule.objects.select_related("remote").order_by("name"):
        source = rule_source(rule, name)
        if source is None:
            continue
        jobs = Job.objects.filter(rule=rule, repository__in=(source, ""))
        last_run = Run.objects.filter(job__in=jobs, finished_at__isnull=False).order_by("-finished_at").first()
        waiting = jobs.filter(status__in=(Job.Status.PENDING, Job.Status.RUNNING)).count()
        rows.append(RuleRow(rule, source, last_run, waiting))
    return rows
