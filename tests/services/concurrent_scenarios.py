"""Interleavings of housekeeping with pushes, each run in a process of its own against a
real database (`python -m tests.services.concurrent_scenarios NAME`, with DATABASE_URL and
REGISTRY_DATA_DIR set by tests/services/test_concurrent_housekeeping.py).

Each scenario stops one thread at a precise point (a `Pause`), lets another thread run into
it for a while, then releases the first: on PostgreSQL the second runs unless a lock stops
it, on SQLite the IMMEDIATE write transactions serialize it. A scenario returns what it
observed (a JSON object); the test asserts on it. Hooks patch Django's QuerySet or the
storage instance, not the code under test, so they hold whatever the fix looks like.
"""
from __future__ import annotations

import json
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta

# How long the second thread gets to run into the first one's locks before it is released.
OVERLAP = 2.0
WAIT = 60.0


class Pause:
    """Stops the first thread that reaches it until `release`; later threads pass."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()

    def __call__(self) -> None:
        if self.reached.is_set():
            return
        self.reached.set()
        self.released.wait(WAIT)

    def release(self) -> None:
        self.released.set()


class Worker(threading.Thread):
    """A thread with its own database connection, keeping its result or its exception."""

    def __init__(self, name: str, target: Callable[[], object]) -> None:
        super().__init__(name=name, daemon=True)
        self._call = target
        self.result = None
        self.error: str | None = None

    def run(self) -> None:
        from django.db import connection

        try:
            self.result = self._call()
        except Exception as exc:  # reported, not lost with the thread
            self.error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        finally:
            connection.close()

    def finish(self) -> None:
        self.join(WAIT)
        assert not self.is_alive(), f"{self.name} is stuck"


def _interleave(first: Worker, pause: Pause, second: Worker) -> None:
    """Run `first` until it stops at `pause`, give `second` OVERLAP seconds to run into it,
    release `first`, and wait for both."""
    first.start()
    assert pause.reached.wait(WAIT), f"{first.name} never reached its pause"
    second.start()
    second.join(OVERLAP)
    pause.release()
    first.finish()
    second.finish()


def _in(thread: str) -> bool:
    return threading.current_thread().name == thread


def _patch_queryset(method: str, when: Callable[[object, dict], bool], pause: Pause, after: bool = False) -> None:
    from django.db.models.query import QuerySet

    real = getattr(QuerySet, method)

    def hooked(self, *args, **kwargs):
        if not after and when(self, kwargs):
            pause()
        result = real(self, *args, **kwargs)
        if after and when(self, kwargs):
            pause()
        return result

    hooked.alters_data = True
    hooked.queryset_only = getattr(real, "queryset_only", False)
    setattr(QuerySet, method, hooked)


def _old_layers(store, name: str, label: str):
    """Layers pushed long ago into `name`, whose manifest never came (GC candidates)."""
    from tests import builders

    img = builders.image(label)
    for blob in img.blobs:
        store.push_blob(name, blob)
    store.age_everything()
    return img


def _state(store, name: str, img) -> dict:
    from registry_api.oci.errors import ManifestBlobUnknown

    digests = {b.digest for b in img.blobs}
    state = {
        "links": sorted(d for repo, d in store.links() if repo == name and d in digests),
        "files": sorted(digests & store.files()),
        "wanted": sorted(digests),
    }
    try:
        store.push_manifest(name, "v1", img.manifest)
        state["manifest_put"] = "201"
    except ManifestBlobUnknown:
        state["manifest_put"] = "MANIFEST_BLOB_UNKNOWN"
    return state


def link_refreshed_during_sweep() -> dict:
    """GC locked a repository and picked its old links; the client pushes the layers again
    (201 each) before GC deletes them: the links must survive, or be made again."""
    from registry_api.models import RepositoryBlob
    from registry_api.services.gc import gc_run
    from registry_api.services.uploads import upload_commit, upload_start
    from tests.services.conftest import Store

    store = Store()
    img = _old_layers(store, "lib/app", "refreshed")
    sessions = [(upload_start(repository_name="lib/app"), b) for b in img.blobs]
    pause = Pause()
    _patch_queryset("delete", lambda qs, kw: qs.model is RepositoryBlob and _in("gc"), pause)
    gc = Worker("gc", lambda: gc_run(grace_period=timedelta(hours=1)).links_removed)
    pusher = Worker("pusher", lambda: [upload_commit(upload=u, digest=b.digest, chunks=[b.data],
                                                     declared_length=len(b.data)).digest for u, b in sessions])
    _interleave(gc, pause, pusher)
    return {"gc_error": gc.error, "push_error": pusher.error, **_state(store, "lib/app", img)}


def link_deleted_before_refresh() -> dict:
    """A re-push found the old link and is about to restart its age when GC deletes it."""
    from registry_api.services import blobs
    from registry_api.services.gc import gc_run
    from tests.services.conftest import Store

    store = Store()
    img = _old_layers(store, "lib/app", "deleted")
    pause = Pause()
    restart = blobs._LINK_AGE_RESTART  # the precompiled UPDATE of the link's age

    class Paused:
        def run(self, **values):
            if _in("pusher"):
                pause()
            return restart.run(**values)

    blobs._LINK_AGE_RESTART = Paused()
    pusher = Worker("pusher", lambda: [store.push_blob("lib/app", b) for b in img.blobs])
    gc = Worker("gc", lambda: gc_run(grace_period=timedelta(hours=1)).links_removed)
    _interleave(pusher, pause, gc)
    return {"gc_error": gc.error, "push_error": pusher.error, **_state(store, "lib/app", img)}


def discard_racing_a_commit() -> dict:
    """Upload A is refused at registration (quota taken meanwhile) with its file in place and
    discards it; upload B of the same bytes into another namespace commits meanwhile."""
    from registry_api.auth.access import Denied
    from registry_api.models import Blob
    from registry_api.services import blobs
    from registry_api.services.fsck import fsck_run
    from storage_backends import get_storage
    from tests.builders import sha256
    from tests.services.conftest import Store

    store = Store()
    data = b"shared layer " * 80
    storage = get_storage()
    pause, real_delete, real_quota = Pause(), storage.delete, blobs.quota_check

    def delete(digest: str) -> None:
        if _in("A"):
            pause()
        real_delete(digest)

    def quota_check(**kwargs) -> None:
        if _in("A"):
            raise Denied("another push took the last of the quota")
        real_quota(**kwargs)

    storage.delete, blobs.quota_check = delete, quota_check

    def push_a() -> str:
        try:
            store.push_blob("team/app", data)
        except Denied:
            return "DENIED"
        return "201"

    a, b = Worker("A", push_a), Worker("B", lambda: store.push_blob("other/app", data))
    _interleave(a, pause, b)
    digest = sha256(data)
    return {
        "a": a.result, "a_error": a.error, "b_error": b.error,
        "row": Blob.objects.filter(digest=digest).exists(),
        "file": storage.stat(digest) is not None,
        "fsck": [(p.kind, p.digest == digest) for p in fsck_run().problems],
    }


def fsck_during_gc_delete() -> dict:
    """GC has deleted a garbage blob's row and file in its open transaction when fsck looks:
    fsck must not report the file missing (the row is going with it)."""
    from registry_api.models import RepositoryBlob
    from registry_api.services.fsck import fsck_run
    from registry_api.services.gc import gc_run
    from storage_backends import get_storage
    from tests.services.conftest import Store

    store = Store()
    store.push_blob("lib/app", b"garbage " * 100)
    RepositoryBlob.objects.all().delete()
    store.age_everything()
    storage = get_storage()
    pause, real_delete = Pause(), storage.delete

    def delete(digest: str) -> None:
        real_delete(digest)
        if _in("gc"):
            pause()

    storage.delete = delete
    gc = Worker("gc", lambda: gc_run(grace_period=timedelta(hours=1)).blobs_deleted)
    fsck = Worker("fsck", lambda: [(p.kind, p.digest) for p in fsck_run(verify_digests=False).problems])
    _interleave(gc, pause, fsck)
    return {"gc": gc.result, "gc_error": gc.error, "fsck": fsck.result, "fsck_error": fsck.error}


def mount_while_gc_sweeps_its_source() -> dict:
    """GC holds the source repository's lock and is about to lock its old links when a mount
    from that repository locks the source link: neither may wait for the other forever."""
    from registry_api.models import RepositoryBlob
    from registry_api.services.gc import gc_run
    from registry_api.services.uploads import blob_mount
    from tests.services.conftest import Store

    store = Store()
    digest = store.push_blob("lib/src", b"mounted layer " * 50)
    store.age_everything()
    pause = Pause()
    _patch_queryset("_fetch_all", lambda qs, kw: qs.model is RepositoryBlob and qs.query.select_for_update
                    and _in("gc"), pause)
    gc = Worker("gc", lambda: gc_run(grace_period=timedelta(hours=1)).links_removed)
    mount = Worker("mount", lambda: blob_mount(repository_name="lib/dst", digest=digest, from_name="lib/src")
                   is not None)
    _interleave(gc, pause, mount)
    return {"gc_error": gc.error, "mount_error": mount.error, "mounted": mount.result,
            "links": sorted(repo for repo, d in store.links() if d == digest), "file": digest in store.files()}


SCENARIOS = {f.__name__: f for f in (
    link_refreshed_during_sweep, link_deleted_before_refresh, discard_racing_a_commit, fsck_during_gc_delete,
    mount_while_gc_sweeps_its_source,
)}


def main(name: str) -> None:
    import django

    django.setup()
    result = SCENARIOS[name]()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
