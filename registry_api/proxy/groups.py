"""Group namespaces: one name answering pulls from an ordered list of hosted and proxy
namespaces. The first member that has the manifest wins; a blob is served from whichever
member holds it (cached or hosted ones first, then fetched through proxy members in
order); tags/list is the merge of every member's tags (a tag in several members pulls
from the first). Groups hold nothing of their own and are read-only.
"""
from __future__ import annotations

import logging

from ..models import Blob, Manifest, RepositoryBlob
from ..oci.errors import BlobUnknown, ManifestUnknown, NameUnknown
from ..oci.reference import is_digest_reference
from ..services.manifests import manifest_get
from ..services.routing import PROXY, Route
from .blobs import BlobStream, proxy_blob_cached, proxy_blob_get, proxy_blob_size
from .manifests import proxy_manifest_get

logger = logging.getLogger(__name__)


def _members(route: Route) -> tuple[Route, ...]:
    if not route.members:
        raise NameUnknown(detail={"name": route.name})
    return route.members


def _member_manifest(member: Route, reference: str) -> Manifest:
    if member.kind == PROXY:
        return proxy_manifest_get(route=member, reference=reference)
    return manifest_get(repository_name=member.local_name, reference=reference)


def group_manifest_get(*, route: Route, reference: str) -> Manifest:
    """The first member's manifest; by digest, a member holding it already goes first."""
    members = _members(route)
    if is_digest_reference(reference):
        local = set(Manifest.objects.filter(repository__name__in=[m.local_name for m in members], digest=reference)
                    .values_list("repository__name", flat=True))
        members = tuple(sorted(members, key=lambda m: m.local_name not in local))  # stable: order kept
    misses = []
    for member in members:
        try:
            manifest = _member_manifest(member, reference)
        except (ManifestUnknown, NameUnknown) as exc:
            misses.append(f"{member.name}: {exc.message}")
            continue
        logger.info("group %s resolved %s from %s", route.name, reference, member.local_name)
        return manifest
    raise ManifestUnknown(f"{route.name}:{reference} is in none of the group's members ({'; '.join(misses)})",
                          detail={"reference": reference})


def _local_blob(member: Route, digest: str) -> Blob | None:
    if member.kind == PROXY:
        return proxy_blob_cached(route=member, digest=digest)
    link = RepositoryBlob.objects.select_related("blob").filter(
        repository__name=member.local_name, blob__digest=digest).first()
    return link.blob if link is not None else None


def group_blob_get(*, route: Route, digest: str, head: bool = False) -> Blob | BlobStream | int:
    """The blob from the first member holding it, else fetched through the proxy members
    in order; HEAD (`head`) answers a size where the blob is not stored here."""
    members = _members(route)
    for member in members:
        blob = _local_blob(member, digest)
        if blob is not None:
            return blob
    for member in members:
        if member.kind != PROXY:
            continue
        try:
            return proxy_blob_size(route=member, digest=digest) if head else proxy_blob_get(route=member, digest=digest)
        except BlobUnknown:
            continue
    raise BlobUnknown(f"{digest} is in none of {route.name}'s members", detail={"digest": digest})
