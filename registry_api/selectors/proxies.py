"""Proxy and group namespaces as the admin and the portal show them: upstream, TTL,
cache hits and misses, what the cache holds."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, Sum

from ..models import Blob, GroupNamespace, ProxyNamespace, Repository, RepositoryBlob


@dataclass
class ProxyRow:
    name: str
    upstream_url: str
    library_default: bool
    manifest_ttl: int
    expire_after_days: int | None
    cache_hits: int
    cache_misses: int
    last_error: str
    last_error_at: datetime | None
    repositories: int = 0
    cached_bytes: int = 0  # each blob once

    @property
    def hit_ratio(self) -> float | None:
        total = self.cache_hits + self.cache_misses
        return self.cache_hits / total if total else None


@dataclass
class GroupRow:
    name: str
    description: str
    members: list[tuple[str, str]] = field(default_factory=list)  # (namespace, "proxy" or "hosted")


def _in_namespace(name: str) -> Q:
    return Q(name__startswith=f"{name}/")


def proxy_rows(*, names: set[str] | None = None) -> list[ProxyRow]:
    """Every proxy (or those in `names`), with a count and size query each (proxies are few)."""
    proxies = ProxyNamespace.objects.all()
    if names is not None:
        proxies = proxies.filter(name__in=names)
    rows = []
    for p in proxies:
        repositories = Repository.objects.filter(_in_namespace(p.name))
        blob_ids = RepositoryBlob.objects.filter(repository__in=repositories).values("blob_id")
        size = Blob.objects.filter(pk__in=blob_ids).aggregate(total=Sum("size"))["total"] or 0
        rows.append(ProxyRow(p.name, p.upstream_url, p.library_default, p.manifest_ttl, p.expire_after_days,
                             p.cache_hits, p.cache_misses, p.last_error, p.last_error_at,
                             repositories.count(), size))
    return rows


def group_rows(*, names: set[str] | None = None) -> list[GroupRow]:
    groups = GroupNamespace.objects.prefetch_related("members")
    if names is not None:
        groups = groups.filter(name__in=names)
    proxies = set(ProxyNamespace.objects.values_list("name", flat=True))
    return [
        GroupRow(g.name, g.description, [(m.namespace, "proxy" if m.namespace in proxies else "hosted")
                                         for m in g.members.all()])
        for g in groups
    ]


def proxy_of(*, repository_name: str) -> ProxyNamespace | None:
    """The proxy whose cache a repository is, if any."""
    return ProxyNamespace.objects.filter(name=repository_name.split("/", 1)[0]).first()
