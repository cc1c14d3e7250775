"""Garbage collection while clients push: nothing a push needs is ever collected.

gunicorn serves; threads push images the way clients do (HEAD each blob, try a mount,
else upload; then the manifest, sometimes an index over two children pushed by digest),
each into a new repository so every shared layer is pushed again. Before each image its
bytes are pushed as garbage (linked only in `race/garbage`, where untagged images pile up
too), and another process runs garbage collection in a loop that makes that garbage old
at once: every run races the pushes on the very blobs it deletes. Afterwards every pushed image must pull back byte for byte.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import builders
from tests.builders import sha256

from .conftest import REPO_ROOT, SERVER_ERROR_RE, _running_registry
from .support import LiveRegistry

pytestmark = pytest.mark.e2e

PUSHERS = 4
IMAGES_PER_PUSHER = 6
GARBAGE_REPOSITORY = "race/garbage"

# Runs in `manage.py shell` against the server's database until the stop file appears.
GC_LOOP = """
import json, os
from datetime import timedelta
from django.utils import timezone
from registry_api.models import Blob, Manifest, RepositoryBlob
from registry_api.services.gc import gc_run

old = timezone.now() - timedelta(days=1)
totals = dict(runs=0, manifests=0, links=0, blobs=0, kept_on_recheck=0)
while True:
    stopping = os.path.exists(os.environ["GC_STOP_FILE"])
    # Time passes for the garbage only: what the pushers link stays young.
    RepositoryBlob.objects.filter(repository__name="race/garbage").update(created_at=old)
    Manifest.objects.filter(repository__name="race/garbage").update(created_at=old)
    Blob.objects.update(created_at=old)
    report = gc_run(delete_untagged=True, grace_period=timedelta(minutes=5))
    totals["runs"] += 1
    totals["manifests"] += report.manifests_deleted
    totals["links"] += report.links_removed
    totals["blobs"] += report.blobs_deleted
    totals["kept_on_recheck"] += report.kept_on_recheck
    if stopping:
        break
print(json.dumps(totals))
"""


def _layer(label: str) -> builders.Blob:
    return builders.layer({f"{label}.txt": label.encode() * 2000})[0]


SHARED = [_layer(f"shared-{i}") for i in range(6)]


def _image(label: str, layers: list[builders.Blob]) -> builders.Image:
    base = builders.image(label, layer_count=1)
    document = json.loads(base.manifest.data)
    document["layers"] = [layer.descriptor() for layer in layers]
    manifest = builders.Blob(json.dumps(document).encode(), base.manifest.media_type)
    return builders.Image(base.config, layers, manifest, base.platform)


def _push_blob(registry: LiveRegistry, name: str, blob: builders.Blob, mount: bool) -> None:
    """As a client: HEAD; then a mount from the garbage repository, or an upload."""
    if registry.request("HEAD", f"/v2/{name}/blobs/{blob.digest}").status == 200:
        return
    if mount:
        started = registry.request("POST", f"/v2/{name}/blobs/uploads/?mount={blob.digest}&from={GARBAGE_REPOSITORY}")
    else:
        started = registry.request("POST", f"/v2/{name}/blobs/uploads/")
    if started.status == 201:
        return  # mounted
    assert started.status == 202, (started.status, started.body)
    done = registry.request("PUT", f"{started.headers['Location']}?digest={blob.digest}", blob.data,
                            {"Content-Type": "application/octet-stream"})
    assert done.status == 201, (done.status, done.body)


def _push_manifest(registry: LiveRegistry, name: str, reference: str, manifest: builders.Blob) -> None:
    response = registry.request("PUT", f"/v2/{name}/manifests/{reference}", manifest.data,
                                {"Content-Type": manifest.media_type})
    assert response.status == 201, (name, reference, response.status, response.body)


def _pusher(registry: LiveRegistry, worker: int, pushed: list, errors: list) -> None:
    try:
        for i in range(IMAGES_PER_PUSHER):
            name = f"race/app-{worker}-{i}"
            images = [_image(f"{worker}-{i}-{k}", [*SHARED[(i + k) % 6:][:3], _layer(f"own-{worker}-{i}-{k}")])
                      for k in range(2 if i % 2 else 1)]
            # The same bytes become garbage first, so the collector is deleting them right
            # when this push HEADs, mounts or uploads them.
            for blob in {b.digest: b for img in images for b in img.blobs}.values():
                registry.push_blob(GARBAGE_REPOSITORY, blob.data)
            time.sleep(random.uniform(0, 0.05))
            for k, img in enumerate(images):
                for blob in img.blobs:
                    _push_blob(registry, name, blob, mount=(k + i) % 2 == 0)
                reference = img.manifest.digest if len(images) > 1 else "v1"
                _push_manifest(registry, name, reference, img.manifest)
            if len(images) > 1:  # a multi-platform push: children by digest, then the index
                index = builders.index(images)
                _push_manifest(registry, name, "v1", index)
                pushed.append((name, index, images))
            else:
                pushed.append((name, images[0].manifest, images))
    except Exception as exc:  # an assertion in a thread would be lost
        errors.append(exc)


def _garbage_maker(registry: LiveRegistry, stop: threading.Event, errors: list) -> None:
    """Keeps making garbage out of the shared layers: links nobody uses, untagged images."""
    try:
        n = 0
        while not stop.is_set():
            for blob in SHARED:
                registry.push_blob(GARBAGE_REPOSITORY, blob.data)
            img = _image(f"garbage-{n}", SHARED[n % 6:][:2])
            registry.push_blob(GARBAGE_REPOSITORY, img.config.data)
            response = registry.request("PUT", f"/v2/{GARBAGE_REPOSITORY}/manifests/{img.manifest.digest}",
                                        img.manifest.data, {"Content-Type": img.manifest.media_type})
            # Its layers are aged at once, so the collector may unlink them before this
            # manifest lands: then it must be refused cleanly, never stored half-linked.
            assert response.status == 201 or (
                response.status == 400 and response.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
            ), (response.status, response.body)
            n += 1
    except Exception as exc:
        errors.append(exc)


def _pulls_back(registry: LiveRegistry, name: str, top: builders.Blob, images: list[builders.Image]) -> None:
    response = registry.request("GET", f"/v2/{name}/manifests/v1", headers={"Accept": top.media_type})
    assert response.status == 200 and response.body == top.data, (name, response.status)
    for img in images:
        assert registry.request("GET", f"/v2/{name}/manifests/{img.manifest.digest}").body == img.manifest.data
        for blob in img.blobs:
            got = registry.request("GET", f"/v2/{name}/blobs/{blob.digest}")
            assert got.status == 200 and sha256(got.body) == blob.digest, (name, blob.digest, got.status)


def test_pushes_during_garbage_collection_all_pull_back(tmp_path):
    with _running_registry(tmp_path, auth=False) as registry:
        for blob in SHARED:
            registry.push_blob(GARBAGE_REPOSITORY, blob.data)
        stop_file = tmp_path / "stop-gc"
        collector = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", GC_LOOP], cwd=REPO_ROOT,
            env={**registry.env, "GC_STOP_FILE": str(stop_file), "REGISTRY_LOG_LEVEL": "WARNING"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        pushed, errors, stop = [], [], threading.Event()
        try:
            maker = threading.Thread(target=_garbage_maker, args=(registry, stop, errors))
            maker.start()
            pushers = [threading.Thread(target=_pusher, args=(registry, w, pushed, errors)) for w in range(PUSHERS)]
            for t in pushers:
                t.start()
            for t in pushers:
                t.join(timeout=120)
            stop.set()
            maker.join(timeout=60)
        finally:
            Path(stop_file).touch()
            out, err = collector.communicate(timeout=120)
        assert collector.returncode == 0, err
        totals = json.loads(out.strip().splitlines()[-1])
        assert not errors, errors
        assert len(pushed) == PUSHERS * IMAGES_PER_PUSHER
        # The collector really ran against the pushes, and really deleted what they share.
        assert totals["runs"] >= 3 and totals["blobs"] > 0 and totals["manifests"] > 0, totals

        # A last collection with no grace at all: only what the tags reach is left.
        registry.manage("gc", "--delete-untagged", "--grace-period", "0")
        for name, top, images in pushed:
            _pulls_back(registry, name, top, images)
        # And no row lost its file, no file its row (fsck exits non-zero otherwise).
        registry.manage("fsck", "--grace-period", "0")
        log = registry.log.read()
        assert "Traceback" not in log and not SERVER_ERROR_RE.search(log), log[-5000:]
