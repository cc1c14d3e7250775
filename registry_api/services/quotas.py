"""Storage quotas per namespace, and what namespaces use.

A namespace's usage is the sum of the sizes of the distinct blobs linked into its
repositories: a layer shared by ten of its repositories counts once, and what is only
staged (unfinished or failed uploads) never counts. `Namespace.quota_bytes` caps it; a
namespace without a row, or with no quota, is unlimited.

The check runs where a blob becomes linked (`blob_register`, for uploads and mounts), in
that transaction with the namespace row locked, so two pushes cannot both squeeze under
the limit. Uploads also check early: before reading a body whose size is declared, and
while chunks arrive (`quota_room`, computed once per request, against the bytes staged so
far), so an over-quota layer is refused when it crosses the line, not after it is staged.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum

from ..auth.access import Denied
from ..db.precompiled import Precompiled
from ..lib.units import format_bytes
from ..models import Blob, Namespace, RepositoryBlob


def namespace_of(repository_name: str) -> str:
    return repository_name.split("/", 1)[0]


def _in_namespace(namespace: str, field: str = "repository__name") -> Q:
    return Q(**{field: namespace}) | Q(**{f"{field}__startswith": namespace + "/"})


def namespace_usage(*, namespace: str) -> int:
    """Bytes the namespace holds, each blob once."""
    blob_ids = RepositoryBlob.objects.filter(_in_namespace(namespace)).values("blob_id")
    return Blob.objects.filter(pk__in=blob_ids).aggregate(total=Sum("size"))["total"] or 0


# The repositories a caller may pull, computed only when a quota applies (most pushes
# never need it); None means every repository (staff, management commands).
Readable = Callable[[], QuerySet] | None


@dataclass(frozen=True)
class QuotaRoom:
    """What a namespace with a quota holds now; `fits` answers for one more blob."""

    namespace: str
    quota: int
    used: int

    def fits(self, size: int) -> bool:
        return self.used + size <= self.quota

    def refusal(self, size: int, what: str = "this blob needs") -> Denied:
        return Denied(
            f"storage quota of namespace {self.namespace} exceeded: {format_bytes(self.used)} of "
            f"{format_bytes(self.quota)} used, {what} {format_bytes(size)} more",
            detail={"namespace": self.namespace, "quota_bytes": self.quota, "used_bytes": self.used,
                    "blob_bytes": size},
        )


# Looked up twice by every blob pushed (precompiled.py says why).
_NAMESPACE = Precompiled(lambda name: Namespace.objects.filter(name=name)[:1], "name")
_NAMESPACE_LOCKED = Precompiled(lambda name: Namespace.objects.select_for_update().filter(name=name)[:1], "name")


def quota_room(
    *, repository_name: str, digest: str | None = None, lock: bool = False, readable: Readable = None
) -> QuotaRoom | None:
    """The namespace's quota and usage, or None when nothing limits this blob (no quota, or
    `digest` is already held in the namespace: linking it again costs nothing). `lock`
    (inside a transaction) holds the namespace row until the caller commits.

    Only a blob held where the caller may pull (`readable`) counts as held: otherwise DENIED
    (over quota) against DIGEST_INVALID (the bytes did not match) would tell someone who may
    push to one repository whether a digest exists in another. Counting such a blob again
    errs towards refusing, never towards exceeding the quota."""
    namespace = namespace_of(repository_name)
    row = (_NAMESPACE_LOCKED if lock else _NAMESPACE).first(name=namespace)
    quota = row.quota_bytes if row is not None else None
    if quota is None:
        return None
    if digest:
        held = RepositoryBlob.objects.filter(_in_namespace(namespace), blob__digest=digest)
        if readable is not None:
            held = held.filter(repository__in=readable())
        if held.exists():
            return None
    return QuotaRoom(namespace, quota, namespace_usage(namespace=namespace))


def quota_check(
    *, repository_name: str, digest: str | None, size: int, lock: bool = False, readable: Readable = None
) -> None:
    """DENIED if linking `size` bytes of blob `digest` (None: not known yet) into the
    repository would take its namespace over quota. The figures are shown: they are totals
    of the namespace the caller may push into (naming no repository or digest), and what
    they need to act on the refusal."""
    room = quota_room(repository_name=repository_name, digest=digest, lock=lock, readable=readable)
    if room is not None and not room.fits(size):
        raise room.refusal(size)


@dataclass
class NamespaceStorage:
    namespace: str
    quota_bytes: int | None
    # Each blob once within the namespace: what the quota counts.
    attributed_bytes: int
    # Blobs no other namespace holds: what deleting the namespace would free on disk.
    exclusive_bytes: int


def storage_by_namespace() -> tuple[list[NamespaceStorage], int]:
    """Every namespace holding blobs or having a row, and the physical total (each blob
    on disk once, whatever holds it). One pass over the links, for the admin page."""
    pairs = (
        RepositoryBlob.objects.values_list("repository__name", "blob_id", "blob__size").distinct()
    )
    holders: dict[int, set[str]] = {}
    sizes: dict[int, int] = {}
    per_namespace: dict[str, set[int]] = {}
    for name, blob_id, size in pairs.iterator(chunk_size=5000):
        namespace = namespace_of(name)
        holders.setdefault(blob_id, set()).add(namespace)
        sizes[blob_id] = size
        per_namespace.setdefault(namespace, set()).add(blob_id)
    quotas = dict(Namespace.objects.values_list("name", "quota_bytes"))
    result = [
        NamespaceStorage(
            namespace=namespace,
            quota_bytes=quotas.get(namespace),
            attributed_bytes=sum(sizes[b] for b in per_namespace.get(namespace, ())),
            exclusive_bytes=sum(sizes[b] for b in per_namespace.get(namespace, ()) if len(holders[b]) == 1),
        )
        for namespace in sorted(set(per_namespace) | set(quotas))
    ]
    physical = Blob.objects.aggregate(total=Sum("size"))["total"] or 0
    return result, physical
