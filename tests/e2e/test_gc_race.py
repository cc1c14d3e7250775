"""Garbage collection while clients push: nothing a push needs is ever collected.

gunicorn serves; threads push images the way clients do (HEAD each blob, try a mount,
else upload; then the manifest, sometimes an index over two children pushed by digest),
each into a new repository so every shared layer is pushed again. Before each image its
bytes are pushed as garbage (linked only in `race/garbage`, where untagged images pile up
too), and another process runs garbage collection in a loop that makes that garbage old
at once: every run races the pushes on the very blobs it deletes.

One more client takes the path where a client skips uploads: its layers were pushed long
ago (the collector ages them on request), it HEADs them (200), a whole collection runs,
then it pushes the manifest naming them, which must be accepted. Afterwards every pushed
image must pull back byte for byte. The test runs on SQLite and, when a PostgreSQL can be
started (tests/postgres.py), on PostgreSQL, where transactions really interleave.
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

HEAD_ROUNDS = 4

# Runs in `manage.py shell` against the server's database until the stop file appears.
# After each run it ages the links of the repositories a client asked for (`age-<key>`
# files holding a name), says so (`aged-<key>`) and holds the next run until the client
# has HEADed them (`headed-<key>`): so their links are old when HEADed, and a whole run
# comes between the HEADs and the manifest. `runs` counts the runs done.
GC_LOOP = """
import json, os, time
from datetime import timedelta
from pathlib import Path
from django.utils import timezone
from registry_api.models import Blob, Manifest, RepositoryBlob
from registry_api.services.gc import gc_run

control = Path(os.environ["GC_CONTROL_DIR"])
old = timezone.now() - timedelta(days=1)
totals = dict(runs=0, manifests=0, links=0, blobs=0, kept_on_recheck=0)
while True:
    stopping = (control / "stop").exists()
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
    (control / "runs.tmp").write_text(str(totals["runs"]))
    os.replace(control / "runs.tmp", control / "runs")
    for request in sorted(control.glob("age-*")):
        key = request.name[len("age-"):]
        RepositoryBlob.objects.filter(repository__name=request.read_text()).update(created_at=old)
        request.unlink()
        (control / f"aged-{key}").touch()
        deadline = time.monotonic() + 60
        while not (control / f"headed-{key}").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
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


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"the collector never wrote {path.name}"
        time.sleep(0.005)


def _runs(control: Path) -> int:
    return int((control / "runs").read_text()) if (control / "runs").exists() else 0


def _head_then_manifest(registry: LiveRegistry, control: Path, pushed: list, errors: list) -> None:
    """Layers pushed long ago, HEADed (so not uploaded again), then the manifest, with a
    whole collection between the HEADs and the manifest."""
    try:
        for i in range(HEAD_ROUNDS):
            name = f"race/head-{i}"
            img = _image(f"head-{i}", [*SHARED[i % 6:][:2], _layer(f"head-own-{i}")])
            for blob in img.blobs:
                registry.push_blob(name, blob.data)
            (control / f"age-{i}").write_text(name)
            _wait_for(control / f"aged-{i}")
            for blob in img.blobs:
                response = registry.request("HEAD", f"/v2/{name}/blobs/{blob.digest}")
                assert response.status == 200, (name, blob.digest, response.status)
            before = _runs(control)
            (control / f"headed-{i}").touch()
            deadline = time.monotonic() + 60
            while _runs(control) <= before:
                assert time.monotonic() < deadline, "the collector stopped running"
                time.sleep(0.005)
            _push_manifest(registry, name, "v1", img.manifest)
            pushed.append((name, img.manifest, [img]))
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.xdist_group("postgres"))])
def database_env(request) -> dict[str, str]:
    """Where the server keeps its metadata: SQLite in its data directory, or PostgreSQL."""
    if request.param == "sqlite":
        return {}
    return {"DATABASE_URL": request.getfixturevalue("postgres_server").new_database()}


def test_pushes_during_garbage_collection_all_pull_back(tmp_path, database_env):
    with _running_registry(tmp_path, auth=False, **database_env) as registry:
        for blob in SHARED:
            registry.push_blob(GARBAGE_REPOSITORY, blob.data)
        control = tmp_path / "gc-control"
        control.mkdir()
        collector = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", GC_LOOP], cwd=REPO_ROOT,
            env={**registry.env, "GC_CONTROL_DIR": str(control), "REGISTRY_LOG_LEVEL": "WARNING"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        pushed, errors, stop = [], [], threading.Event()
        try:
            maker = threading.Thread(target=_garbage_maker, args=(registry, stop, errors))
            maker.start()
            pushers = [threading.Thread(target=_pusher, args=(registry, w, pushed, errors)) for w in range(PUSHERS)]
            pushers.append(threading.Thread(target=_head_then_manifest, args=(registry, control, pushed, errors)))
            for t in pushers:
                t.start()
            for t in pushers:
                t.join(timeout=120)
            stop.set()
            maker.join(timeout=60)
        finally:
            (control / "stop").touch()
            out, err = collector.communicate(timeout=120)
        assert collector.returncode == 0, err
        totals = json.loads(out.strip().splitlines()[-1])
        assert not errors, errors
        assert len(pushed) == PUSHERS * IMAGES_PER_PUSHER + HEAD_ROUNDS
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
