"""`manage.py retention [--dry-run]`: delete the tags that retention policies select
(services/retention.py), printing each with the rule that selects it and the manifests
that go with it (those only it reached)."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from registry_api.services.retention import retention_apply


class Command(BaseCommand):
    help = "Apply the enabled retention policies: delete the tags they select."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list each tag that would go and why; delete nothing")

    def handle(self, *args, dry_run: bool, **options) -> None:
        decisions = retention_apply(dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        for d in decisions:
            self.stdout.write(f"{verb} {d.repository}:{d.tag} ({d.digest}): {d.rule}")
            for digest in d.manifests:
                self.stdout.write(f"  and manifest {d.repository}@{digest}: only this tag reached it")
        manifests = sum(len(d.manifests) for d in decisions)
        self.stdout.write(f"{verb} {len(decisions)} tag(s)" + (f" and {manifests} manifest(s)" if manifests else ""))
