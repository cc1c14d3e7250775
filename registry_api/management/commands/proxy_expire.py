"""`manage.py proxy_expire [--dry-run]`: drop proxy-cached tags and manifests nobody pulled
within their proxy's `expire_after_days` (registry_api/proxy/expiry.py); `gc` then frees
their blobs."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from registry_api.proxy.expiry import proxy_expire


class Command(BaseCommand):
    help = "Expire proxy-cached tags and manifests not pulled within their proxy's expiry; run gc afterwards."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")

    def handle(self, *args, dry_run: bool, **options) -> None:
        report = proxy_expire(dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        for line in report.tags:
            self.stdout.write(f"{verb} tag {line}")
        for line in report.manifests:
            self.stdout.write(f"{verb} manifest {line}")
        self.stdout.write(f"{verb} {len(report.tags)} tag(s), {len(report.manifests)} manifest(s); "
                          "garbage collection frees their blobs")
