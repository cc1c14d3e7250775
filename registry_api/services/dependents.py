"""What deleting a manifest breaks: the indexes of its repository that list it (each then
lacks a platform: pulling that platform by the index's tags fails) and the referrers
(signatures, SBOMs) whose `subject` it is (left pointing at nothing).

Distribution lets /v2/ DELETE such a manifest, and clients rely on it (deleting a
multi-platform image child first, cleanup tools going digest by digest), so /v2/ keeps
allowing it and only logs a warning. The portal shows these lists on its confirmation
page and passes `allow_dependents=False` unless the person ticked the box; the check is
made again under the repository lock, so an index pushed after the page was shown is not
broken silently.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from ..auth.access import Denied
from ..models import Manifest, ManifestReference, Repository, Tag
from ..oci.imageconfig import platform_string

# Listed by name on the confirmation page; beyond this, only counted.
LISTED = 50


@dataclass
class IndexUse:
    digest: str
    tags: list[str]
    platform: str  # the platform the index lists the manifest for ("" when it says none)


@dataclass
class ReferrerUse:
    digest: str
    artifact_type: str
    tags: list[str]


@dataclass
class Dependents:
    indexes: list[IndexUse] = field(default_factory=list)
    referrers: list[ReferrerUse] = field(default_factory=list)
    index_count: int = 0
    referrer_count: int = 0

    def __bool__(self) -> bool:
        return bool(self.index_count or self.referrer_count)


class ManifestInUse(Denied):
    """Refused: indexes or referrers depend on the manifest and the caller did not accept that."""


def _platform_in(payload: bytes, digest: str) -> str:
    try:
        entries = json.loads(bytes(payload)).get("manifests") or []
    except (ValueError, AttributeError):
        return ""
    return next((platform_string(e.get("platform")) for e in entries
                 if isinstance(e, dict) and e.get("digest") == digest), "")


def _tags_of(manifest_ids: list[int]) -> dict[int, list[str]]:
    tags = defaultdict(list)
    for manifest_id, name in Tag.objects.filter(manifest_id__in=manifest_ids).order_by("name").values_list("manifest_id", "name"):
        tags[manifest_id].append(name)
    return tags


def dependents_exist(*, repository: Repository, digest: str) -> bool:
    """One indexed query: the delete path's check."""
    return (
        ManifestReference.objects.filter(manifest__repository=repository, child_digest=digest).exists()
        or Manifest.objects.filter(repository=repository, subject_digest=digest).exists()
    )


def manifest_dependents(*, repository: Repository, digest: str) -> Dependents:
    """The indexes listing `digest` and its referrers, each with its tags (four queries)."""
    index_rows = ManifestReference.objects.filter(manifest__repository=repository, child_digest=digest)
    referrer_rows = Manifest.objects.filter(repository=repository, subject_digest=digest)
    found = Dependents(index_count=index_rows.count(), referrer_count=referrer_rows.count())
    if not found:
        return found
    indexes = list(index_rows.order_by("manifest__created_at").values_list("manifest_id", "manifest__digest", "manifest__payload")[:LISTED])
    referrers = list(referrer_rows.order_by("created_at").values_list("pk", "digest", "artifact_type")[:LISTED])
    tags = _tags_of([pk for pk, *_ in indexes] + [pk for pk, *_ in referrers])
    found.indexes = [IndexUse(d, tags.get(pk, []), _platform_in(payload, digest)) for pk, d, payload in indexes]
    found.referrers = [ReferrerUse(d, artifact_type, tags.get(pk, [])) for pk, d, artifact_type in referrers]
    return found
