"""`make bench-portal`: every portal and admin page timed on a registry of 10,000
repositories, 100,000 tags and 20,000 blobs, so docs/performance.md's scale table can be reproduced.

A scratch data directory (deleted afterwards unless --keep) is migrated and filled in bulk
(`portal_fill.py`); each page is then fetched through Django's test client, in process, as
a superuser and as a user granted one namespace. A page is fetched once to warm caches,
then timed BENCH_PORTAL_RUNS times (default 5); the table shows the median and the
number of SQL queries. "cold" rows clear Django's cache first: what the first visitor
after the dashboard cache expires waits for.

    python bench/portal.py [--repositories N] [--tags N] [--blobs N] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_PORTAL_RUNS", "5"))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repositories", type=int, default=10_000)
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--blobs", type=int, default=20_000)
    parser.add_argument("--keep", metavar="DIR", help="fill (or reuse) this data directory and keep it")
    return parser.parse_args()


def _setup(data_dir: Path) -> None:
    """Django on a scratch data directory: nothing in the checkout's data/ or .env is used."""
    os.environ["REGISTRY_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "registry_project.settings"
    os.environ.setdefault("REGISTRY_LOG_LEVEL", "WARNING")
    os.environ.setdefault("REGISTRY_ADMIN_PASSWORD", "bench-admin")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _pages(filled) -> list[tuple[str, str, bool]]:
    """(label, path, superuser only); the user's pages are on the namespace they may pull."""
    repo, (a, b, _) = filled.sample, filled.sample_digests
    pages = [
        ("/", "/", False), ("/api/v1/summary/", "/api/v1/summary/", False),
        ("/repositories/ (name)", "/repositories/", False),
    ]
    for sort in ("-name", "-pushed", "pushed", "-size", "size", "-tags", "tags"):
        pages.append((f"/repositories/?sort={sort}", f"/repositories/?sort={sort}", False))
    pages += [
        ("/repositories/?q=repo0500", "/repositories/?q=repo0500", False),
        ("/repositories/?namespace=…", f"/repositories/?namespace={repo.split('/')[0]}", False),
        ("/repositories/?page=150&sort=-size", "/repositories/?page=150&sort=-size", False),
        ("/repositories/<name>/", f"/repositories/{repo}/", False),
        ("/repositories/<name>/?q=t1", f"/repositories/{repo}/?q=t1", False),
        ("tag search (compare form)", f"/api/v1/repositories/{repo}/-/tags/?q=t&sort=-pushed&page_size=20", False),
        ("manifest page (image)", f"/repositories/{repo}/manifests/{a}/", False),
        ("manifest page (index)", f"/repositories/{repo}/manifests/{filled.index_digest}/", False),
        ("compare two tags", f"/repositories/{repo}/-/compare/?a=t0-0&b=t1-1", False),
        ("delete manifest (confirm)", f"/repositories/{repo}/manifests/{b}/delete/", True),
    ]
    for model in ("repository", "tag", "manifest", "blob", "repositoryblob", "manifestreference"):
        pages.append((f"admin {model} list", f"/admin/registry_api/{model}/", True))
    pages += [
        ("admin tag list, namespace filter", f"/admin/registry_api/tag/?namespace={repo.split('/')[0]}", True),
        ("admin GC preview", "/admin/registry_api/garbagecollection/", True),
        ("admin storage by namespace", "/admin/registry_api/namespaceusage/", True),
    ]
    return pages


def _time(client, path: str, cold: bool = False) -> tuple[float, int, int]:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm: templates compiled, connection open, caches filled
    samples, queries, status = [], 0, 0
    for _ in range(RUNS):
        if cold:
            cache.clear()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - start) * 1000)
        queries, status = len(captured), response.status_code
    return statistics.median(samples), queries, status


def main() -> None:
    args = _arguments()
    scratch = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-portal-"))
    scratch.mkdir(parents=True, exist_ok=True)
    reuse = (scratch / "registry.sqlite3").exists()
    _setup(scratch)
    import portal_fill
    from django.contrib.auth.models import User
    from django.test import Client

    try:
        if reuse:
            filled = portal_fill.existing()
        else:
            start = time.perf_counter()
            filled = portal_fill.fill(repositories=args.repositories, tags=args.tags, blobs=args.blobs)
            print(f"filled in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        counts = portal_fill.counts()
        print(f"Portal on SQLite: {counts}; {platform.node()}, {os.cpu_count()} CPUs, "
              f"Python {platform.python_version()}; median of {RUNS} runs, warm unless 'cold'")
        clients = {}
        for who in (filled.superuser, filled.user):
            clients[who] = Client()
            clients[who].force_login(User.objects.get(username=who))
        print(f"| Page | superuser | user granted one namespace |\n|---|---|---|")
        for label, path, superuser_only in _pages(filled):
            cells = []
            for who, client in clients.items():
                if superuser_only and who != filled.superuser:
                    cells.append("—")
                    continue
                ms, queries, status = _time(client, path)
                cells.append(f"{ms:.0f} ms, {queries} q" + ("" if status == 200 else f" ({status})"))
            print(f"| {label} | {' | '.join(cells)} |")
        for path in ("/", "/api/v1/summary/"):
            cells = []
            for client in clients.values():
                ms, queries, _ = _time(client, path, cold=True)
                cells.append(f"{ms:.0f} ms, {queries} q")
            print(f"| {path} (cache cold) | {' | '.join(cells)} |")
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
