"""Read-side queries of /v2/ discovery: tag lists, the catalog, referrers."""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.db.models.functions import Collate

from ..models import Manifest, Tag
from ..oci import mediatypes
from ..services.repositories import repository_get


@dataclass
class Page:
    items: list[str]
    has_more: bool


def _bytewise(field: str) -> Collate:
    """The column compared by raw bytes ("ASCIIbetical"), whatever the database's default
    collation (PostgreSQL's is often a locale's, which sorts "a" before "B")."""
    return Collate(field, "C" if connection.vendor == "postgresql" else "BINARY")


def _page(queryset: QuerySet, field: str, n: int, last: str | None) -> Page:
    """At most `n` values after `last`, and whether more remain.

    `last` is compared in the collation of the order: compared in the default one while
    ordered in "C", a page could start before or after where the previous one ended.
    """
    queryset = queryset.alias(page_key=_bytewise(field))
    if last:
        queryset = queryset.filter(page_key__gt=last)
    queryset = queryset.order_by("page_key").values_list(field, flat=True)
    items = list(queryset[: n + 1])
    return Page(items[:n], len(items) > n)


def tag_list_page(*, repository_name: str, n: int, last: str | None) -> Page:
    repository = repository_get(name=repository_name)
    return _page(Tag.objects.filter(repository=repository), "name", n, last)


def catalog_page(*, repositories: QuerySet, n: int, last: str | None) -> Page:
    """A page of the names in `repositories` (already narrowed to what the caller may see)."""
    return _page(repositories, "name", n, last)


def _referrer_manifests(repository_name: str, digest: str, artifact_type: str | None) -> QuerySet:
    manifests = Manifest.objects.filter(repository__name=repository_name, subject_digest=digest)
    if artifact_type:
        manifests = manifests.filter(artifact_type=artifact_type)
    return manifests.only("digest", "media_type", "size", "artifact_type", "annotations")


def _descriptor(m: Manifest) -> dict:
    descriptor = {"mediaType": m.media_type, "digest": m.digest, "size": m.size}
    if m.artifact_type:
        descriptor["artifactType"] = m.artifact_type
    if m.annotations:
        descriptor["annotations"] = m.annotations
    return descriptor


def _fallback_matching(repository_name: str, digest: str, artifact_type: str | None) -> list[dict]:
    return [
        d for d in _fallback_tag_referrers(repository_name, digest)
        if not artifact_type or d.get("artifactType") == artifact_type
    ]


def referrers_of(*, repository_name: str, digest: str, artifact_type: str | None) -> list[dict]:
    """Every referrer, in push order (the portal's manifest page): the manifests in the
    repository whose `subject` is `digest`, plus those listed in the `sha256-<hex>` fallback
    tag that clients wrote for registries without the Referrers API (the spec requires
    both once the API is on)."""
    descriptors = [
        _descriptor(m) for m in _referrer_manifests(repository_name, digest, artifact_type).order_by("created_at", "id")
    ]
    seen = {d["digest"] for d in descriptors}
    for descriptor in _fallback_matching(repository_name, digest, artifact_type):
        if descriptor["digest"] not in seen:
            seen.add(descriptor["digest"])
            descriptors.append(descriptor)
    return descriptors


@dataclass
class ReferrersPage:
    descriptors: list[dict]
    has_more: bool


def referrers_page(
    *, repository_name: str, digest: str, artifact_type: str | None, n: int, last: str | None
) -> ReferrersPage:
    """At most `n` referrers (as `referrers_of` finds them) after the digest `last`, in
    bytewise digest order: a key every entry has, stored or only in the fallback index,
    that a deletion between two pages cannot invalidate.

    The n+1 first stored ones after `last` suffice: a fallback entry that duplicates a
    stored one past them cannot be among the first n of the union either.
    """
    manifests = _referrer_manifests(repository_name, digest, artifact_type).alias(page_key=_bytewise("digest"))
    if last:
        manifests = manifests.filter(page_key__gt=last)
    merged = {m.digest: _descriptor(m) for m in manifests.order_by("page_key")[: n + 1]}
    for descriptor in _fallback_matching(repository_name, digest, artifact_type):
        if (not last or descriptor["digest"] > last) and descriptor["digest"] not in merged:
            merged[descriptor["digest"]] = descriptor
    ordered = [merged[key] for key in sorted(merged)]
    return ReferrersPage(ordered[:n], len(ordered) > n)


def _fallback_tag_referrers(repository_name: str, digest: str) -> list[dict]:
    tag = (
        Tag.objects.select_related("manifest")
        .filter(repository__name=repository_name, name=digest.replace(":", "-", 1))
        .first()
    )
    if tag is None or tag.manifest.media_type != mediatypes.OCI_INDEX:
        return []
    try:
        entries = json.loads(bytes(tag.manifest.payload)).get("manifests", [])
    except ValueError:
        return []
    keep = ("mediaType", "digest", "size", "artifactType", "annotations")
    return [
        {k: e[k] for k in keep if k in e}
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("digest"), str) and "mediaType" in e and "size" in e
    ]

