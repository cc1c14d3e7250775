"""Garbage collection: mark what is still needed, sweep the rest, while pushes go on.

The mark (`plan.py`, computed in memory from a few queries, never from payloads):
  * in each repository, the roots are its tagged manifests and every manifest pushed within
    the grace period; from them are kept, transitively: the children of kept indexes, the
    referrers of kept manifests (manifests whose `subject` is kept) and the subject of kept
    referrers (a tagged signature keeps the image it signs);
  * without `delete_untagged` every manifest is kept, as in the reference registry;
  * a blob is needed while a remaining manifest references it, while a repository link to
    it is younger than the grace period, or while an upload session is committing it.

The sweep (`sweep.py`), in three phases:
  1. (`delete_untagged`) manifests that are not kept; their references and tags go with them;
  2. repository links that no remaining manifest of that repository references and that are
     older than the grace period (a layer pushed but never used, or left by deleted manifests);
  3. blob rows with no link and no reference, older than the grace period, then their files
     (none while a backup is copying blobs: the backup needs every blob of its snapshot).

Why this is safe while the registry serves pushes and pulls:
  * Grace period (REGISTRY_GC_GRACE_PERIOD, on manifest, link and blob age): a client pushes
    layers first and the manifest naming them afterwards; until then nothing references the
    layers. A new push or mount of a blob already linked restarts its link's age, and so
    does a HEAD or GET of an old link by a client that may push (it may skip the upload and
    push a manifest naming the blob).
  * Re-check under a lock, inside the statement that deletes: every candidate is checked
    again in the transaction that deletes it, against the database as it is then. Manifests
    and links are re-checked under `lock_repository` (which manifest pushes and tag moves
    take); links are also locked row by row (`SELECT … FOR UPDATE` with the age condition,
    and the DELETE repeats it), because a push restarting a link's age does not take the
    repository lock: it locks the link row, so it either lands first (the re-check sees the
    new age) or waits and finds the link gone (and creates it again).
  * `manifest_put` checks its references under the repository lock, so a manifest either
    lands before its blobs are unlinked (and the re-check sees it) or is refused with
    MANIFEST_BLOB_UNKNOWN; it never lands naming a blob that is gone.
  * Files, and the digest lock (`locking.lock_digest`): an upload writes its file before the
    row exists, so "no row" does not mean "no file in use". Whatever can delete a blob file
    (phase 3, fsck --repair, discarding a refused upload's file) takes the digest's lock and
    checks under it that no row needs the file and no session claims the digest; a session
    claims the digest under the same lock before moving its file into place, and registers
    the row (and drops its claim) under it again, only if its claim still stands. So an
    upload of the same bytes either claimed the digest before the deletion (the blob is
    kept) or moves its file into place after the old one is gone; and a session whose claim
    was dropped (purged, repository deleted) never registers a row for a file GC took.
  * A mount checks its source link and adds the new one in one transaction with the source
    link locked, which phase 2 (removing the source link) and phase 3 (needing no link at
    all) serialize with.
On SQLite the IMMEDIATE write transactions serialize all of this; on PostgreSQL the row
locks and advisory locks taken here, in the upload commit and in `blob_mount` do.
tests/services/test_concurrent_housekeeping.py replays the interleavings on both.
"""
from __future__ import annotations

from .plan import GcPlan, Garbage, GcPreviewExpired, gc_plan, gc_plan_token, grace_cutoff, reachable_manifests
from .sweep import GcReport, gc_run

__all__ = [
    "Garbage", "GcPlan", "GcPreviewExpired", "GcReport", "gc_plan", "gc_plan_token", "gc_run", "grace_cutoff",
    "reachable_manifests",
]
