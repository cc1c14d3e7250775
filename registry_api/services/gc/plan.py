"""The mark of garbage collection: what a run would delete now, and why (package docstring
has the rules). Nothing here deletes; `sweep.py` re-checks every item before it does."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone

from ...models import Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag, Upload

# How long a previewed plan may be confirmed (the admin's "run what you saw").
PREVIEW_MAX_AGE = 3600
_PREVIEW_SALT = "registry_api.gc.preview"


class GcPreviewExpired(Exception):
    """The confirmed preview is too old or was not issued by this registry."""


@dataclass(frozen=True)
class Garbage:
    """One thing a run deletes, and why."""

    kind: str  # "manifest", "link" or "blob"
    pk: int
    repository_id: int | None  # None for blobs, which are global
    digest: str
    size: int
    reason: str
    repository: str = ""  # its name, for people


@dataclass
class GcPlan:
    cutoff: datetime
    delete_untagged: bool
    manifests: list[Garbage] = field(default_factory=list)
    links: list[Garbage] = field(default_factory=list)
    blobs: list[Garbage] = field(default_factory=list)
    # With a confirmed preview: previewed items that are no candidates any more (in use again).
    no_longer_garbage: int = 0

    @property
    def bytes(self) -> int:
        return sum(g.size for g in self.blobs)

    @property
    def items(self) -> list[Garbage]:
        return [*self.manifests, *self.links, *self.blobs]


@dataclass(frozen=True)
class ManifestRow:
    pk: int
    repository_id: int
    digest: str
    subject: str
    created_at: datetime
    size: int


def grace_cutoff(grace_period: timedelta | None = None, now: datetime | None = None) -> datetime:
    if grace_period is None:
        grace_period = timedelta(seconds=settings.REGISTRY_GC_GRACE_PERIOD)
    return (now or timezone.now()) - grace_period


def _short(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}"


def manifest_rows(**filters) -> list[ManifestRow]:
    fields = ("pk", "repository_id", "digest", "subject_digest", "created_at", "size")
    return [ManifestRow(*values) for values in Manifest.objects.filter(**filters).values_list(*fields)]


def child_digests(**filters) -> dict[int, list[str]]:
    """Index children by manifest pk (filters apply to ManifestReference)."""
    children: dict[int, list[str]] = defaultdict(list)
    references = ManifestReference.objects.filter(**filters).exclude(child_digest="")
    for manifest_id, child in references.values_list("manifest_id", "child_digest"):
        children[manifest_id].append(child)
    return children


def reachable_manifests(rows: Iterable[ManifestRow], roots: set[int], children: dict[int, list[str]]) -> set[int]:
    """Manifests reachable from `roots`, each within its own repository, following index
    children, referrers of reached manifests and the subjects of reached referrers."""
    rows = list(rows)
    by_digest = {(r.repository_id, r.digest): r for r in rows}
    referrers: dict[tuple[int, str], list[ManifestRow]] = defaultdict(list)
    for r in rows:
        if r.subject:
            referrers[(r.repository_id, r.subject)].append(r)
    stack = [r for r in rows if r.pk in roots]
    kept = {r.pk for r in stack}
    while stack:
        r = stack.pop()
        reached = [by_digest.get((r.repository_id, c)) for c in children.get(r.pk, ())]
        reached += referrers.get((r.repository_id, r.digest), [])
        if r.subject:
            reached.append(by_digest.get((r.repository_id, r.subject)))
        for n in reached:
            if n is not None and n.pk not in kept:
                kept.add(n.pk)
                stack.append(n)
    return kept


def kept_manifests(rows: list[ManifestRow], tagged: set[int], children: dict[int, list[str]],
                   cutoff: datetime) -> set[int]:
    """What garbage collection keeps: reachable from a tag or from a manifest within the grace period."""
    return reachable_manifests(rows, tagged | {r.pk for r in rows if r.created_at >= cutoff}, children)


def _manifest_reason(row: ManifestRow, listed_by_index: set[tuple[int, str]], stored: set[tuple[int, str]]) -> str:
    if row.subject:
        state = "not stored" if (row.repository_id, row.subject) not in stored else "not reachable either"
        return f"untagged referrer of {_short(row.subject)}, which is {state}"
    if (row.repository_id, row.digest) in listed_by_index:
        return "untagged, and only listed by indexes that are not reachable either"
    return "untagged, and no tag, index or subject reaches it"


def _doomed_manifests(plan: GcPlan, rows: list[ManifestRow]) -> set[int]:
    tagged = set(Tag.objects.values_list("manifest_id", flat=True))
    children = child_digests()
    kept = kept_manifests(rows, tagged, children, plan.cutoff)
    by_pk = {r.pk: r for r in rows}
    listed = {(by_pk[m].repository_id, c) for m, cs in children.items() if m in by_pk for c in cs}
    stored = {(r.repository_id, r.digest) for r in rows}
    doomed = {r.pk for r in rows if r.pk not in kept}
    plan.manifests = [
        Garbage("manifest", r.pk, r.repository_id, r.digest, r.size, _manifest_reason(r, listed, stored))
        for r in rows if r.pk in doomed
    ]
    return doomed


def gc_plan(*, delete_untagged: bool = False, grace_period: timedelta | None = None) -> GcPlan:
    """What a run would delete now, with the reason for each item; deletes nothing.

    The tables are read one after the other while pushes go on, not as one snapshot (on
    SQLite that would hold the write lock), so rows may appear between two reads. The
    reads are ordered so that this only ever keeps more: blobs first (a blob pushed later
    is no candidate), references before links, and the sweep re-checks every candidate.
    """
    plan = GcPlan(cutoff=grace_cutoff(grace_period), delete_untagged=delete_untagged)
    blobs = {pk: (digest, size, created) for pk, digest, size, created in
             Blob.objects.values_list("pk", "digest", "size", "created_at")}
    doomed = _doomed_manifests(plan, manifest_rows()) if delete_untagged else set()
    needed: set[tuple[int, int]] = set()  # (repository, blob) pairs a remaining manifest references
    freed_by_deletes: set[tuple[int, int]] = set()
    references = ManifestReference.objects.filter(blob__isnull=False)
    for manifest_id, repository_id, blob_id in references.values_list("manifest_id", "manifest__repository_id", "blob_id"):
        (freed_by_deletes if manifest_id in doomed else needed).add((repository_id, blob_id))
    linked_after: set[int] = set()
    removed_links: set[int] = set()
    for pk, repository_id, blob_id, created in RepositoryBlob.objects.values_list("pk", "repository_id", "blob_id", "created_at"):
        pair = (repository_id, blob_id)
        if pair in needed or created >= plan.cutoff or blob_id not in blobs:
            linked_after.add(blob_id)
            continue
        removed_links.add(blob_id)
        reason = ("only referenced by untagged manifests deleted in this run" if pair in freed_by_deletes
                  else "no manifest of the repository references it")
        digest, size, _ = blobs[blob_id]
        plan.links.append(Garbage("link", pk, repository_id, digest, size, reason))
    referenced_after = {blob for _, blob in needed}
    committing = set(Upload.objects.exclude(digest="").values_list("digest", flat=True))
    for pk, (digest, size, created) in blobs.items():
        if pk in linked_after or pk in referenced_after or created >= plan.cutoff or digest in committing:
            continue
        where = "its last repository link goes in this run" if pk in removed_links else "held by no repository"
        plan.blobs.append(Garbage("blob", pk, None, digest, size, f"{where}, and no manifest references it"))
    # Names last, for people (a repository created meanwhile has one too).
    names = dict(Repository.objects.values_list("pk", "name"))
    plan.manifests = [replace(g, repository=names.get(g.repository_id, "")) for g in plan.manifests]
    plan.links = [replace(g, repository=names.get(g.repository_id, "")) for g in plan.links]
    return plan


def gc_plan_token(plan: GcPlan) -> str:
    """A signed list of the plan's items, so a confirmation runs what was previewed."""
    return signing.dumps({
        "u": plan.delete_untagged,
        "m": [g.pk for g in plan.manifests], "l": [g.pk for g in plan.links], "b": [g.pk for g in plan.blobs],
    }, salt=_PREVIEW_SALT, compress=True)


def restrict_to_preview(plan: GcPlan, token: str) -> GcPlan:
    """The items of `plan` (made now) that the preview `token` listed too."""
    try:
        previewed = signing.loads(token, salt=_PREVIEW_SALT, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired included
        raise GcPreviewExpired("the preview is too old or not from this registry; preview again") from None
    if previewed["u"] != plan.delete_untagged:
        raise GcPreviewExpired("the preview was made with other options; preview again")
    selected = {kind: set(previewed[kind[0]]) for kind in ("manifests", "links", "blobs")}
    kept = {kind: [g for g in getattr(plan, kind) if g.pk in selected[kind]] for kind in selected}
    gone = sum(len(selected[kind]) - len(kept[kind]) for kind in selected)
    return replace(plan, **kept, no_longer_garbage=gone)
