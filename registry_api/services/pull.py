"""What a pull gets, whatever its route (services/routing.py): hosted, proxy cache or group.

The one place a read chooses between the hosted services and the proxy package: the /v2/
views and the manifest fast path call these and never import `proxy/`, so they hold no
proxy logic of their own (tests/unit/test_layout.py). `BlobStream`, what a blob GET of an
uncached proxy blob returns, is named here for them.
"""
from __future__ import annotations

import logging

from ..models import Blob, Manifest, Repository, Tag
from ..oci.errors import NameUnknown
from ..oci.reference import InvalidReference, validate_tag
from ..proxy.blobs import BlobStream, proxy_blob_get, proxy_blob_size
from ..proxy.groups import group_blob_get, group_manifest_get
from ..proxy.manifests import manifest_pull_record, proxy_manifest_get
from ..proxy.upstream import UpstreamClient, UpstreamNotFound, UpstreamUnavailable
from ..selectors.discovery import Page, ReferrersPage, referrers_of, referrers_page, tag_list_page
from .blobs import blob_linked
from .manifests import manifest_get, manifest_pulled
from .routing import GROUP, HOSTED, PROXY, Route

__all__ = [
    "BlobStream", "blob_for_pull", "blob_size_for_pull", "manifest_for_pull", "manifest_pull_note",
    "referrers_for_pull", "tags_for_pull",
]

logger = logging.getLogger(__name__)


def manifest_for_pull(*, route: Route, reference: str) -> Manifest:
    if route.kind == PROXY:
        return proxy_manifest_get(route=route, reference=reference)
    if route.kind == GROUP:
        return group_manifest_get(route=route, reference=reference)
    return manifest_get(repository_name=route.local_name, reference=reference)


def manifest_pull_note(*, route: Route, manifest: Manifest, reference: str) -> None:
    """A GET is a pull: the tag's last pull time, and for caches the manifest's too."""
    manifest_pulled(manifest=manifest, reference=reference)
    if route.kind != HOSTED:
        manifest_pull_record(manifest=manifest)


def blob_for_pull(*, route: Route, digest: str, may_push: bool = False) -> Blob | BlobStream:
    """`may_push`: the caller may push to the hosted repository (services/blobs.py
    `blob_linked`); proxies and groups are read-only."""
    if route.kind == PROXY:
        return proxy_blob_get(route=route, digest=digest)
    if route.kind == GROUP:
        return group_blob_get(route=route, digest=digest)
    return blob_linked(repository_name=route.local_name, digest=digest, may_push=may_push)


def blob_size_for_pull(*, route: Route, digest: str, may_push: bool = False) -> int:
    """HEAD of a blob: its size (an uncached proxy blob is not fetched for it)."""
    if route.kind == PROXY:
        return proxy_blob_size(route=route, digest=digest)
    if route.kind == GROUP:
        found = group_blob_get(route=route, digest=digest, head=True)
        return found if isinstance(found, int) else found.size
    return blob_linked(repository_name=route.local_name, digest=digest, may_push=may_push).size


def _valid_tags(names) -> set[str]:
    valid = set()
    for name in names:
        try:
            valid.add(validate_tag(name))
        except InvalidReference:
            continue
    return valid


def _proxy_tags(route: Route) -> set[str] | None:
    """Upstream's tags merged with the cached ones (upstream down: the cached ones); None
    when neither knows the name."""
    cached = Repository.objects.filter(name=route.local_name).exists()
    tags = set(Tag.objects.filter(repository__name=route.local_name).values_list("name", flat=True))
    if not route.upstream_name:
        return None
    try:
        tags |= _valid_tags(UpstreamClient(route.proxy).tags(route.upstream_name))
    except UpstreamNotFound:
        return tags if cached else None
    except UpstreamUnavailable as exc:
        logger.warning("proxy tags of %s from the cache only: %s", route.local_name, exc)
        return tags if cached else None
    return tags


def _hosted_tags(route: Route) -> set[str] | None:
    if not Repository.objects.filter(name=route.local_name).exists():
        return None
    return set(Tag.objects.filter(repository__name=route.local_name).values_list("name", flat=True))


def tags_for_pull(*, route: Route, n: int, last: str | None) -> Page:
    """tags/list: hosted from the database; a proxy merged with upstream's list (its first
    page); a group merged over its members. NAME_UNKNOWN when nobody knows the name."""
    if route.kind == HOSTED:
        return tag_list_page(repository_name=route.local_name, n=n, last=last)
    if route.kind == PROXY:
        found = _proxy_tags(route)
    else:
        known = [t for t in (_proxy_tags(m) if m.kind == PROXY else _hosted_tags(m) for m in route.members)
                 if t is not None]
        found = set().union(*known) if known else None
    if found is None:
        raise NameUnknown(detail={"name": route.name})
    after = sorted(t for t in found if not last or t > last)  # tags are ASCII: code points are bytes
    return Page(after[:n], len(after) > n)


def referrers_for_pull(
    *, route: Route, digest: str, artifact_type: str | None, n: int, last: str | None
) -> ReferrersPage:
    """Referrers from what is stored here, paged by digest: the cache for a proxy, every
    member for a group (merged, each digest once)."""
    if route.kind != GROUP:
        return referrers_page(repository_name=route.local_name, digest=digest, artifact_type=artifact_type,
                              n=n, last=last)
    merged: dict[str, dict] = {}
    for member in route.members:
        for descriptor in referrers_of(repository_name=member.local_name, digest=digest, artifact_type=artifact_type):
            merged.setdefault(descriptor["digest"], descriptor)
    after = [merged[d] for d in sorted(merged) if not last or d > last]  # digests are ASCII
    return ReferrersPage(after[:n], len(after) > n)
