"""Garbage collection: exactly the reachable set survives; dry runs delete nothing; what is
young or being pushed right now is never collected (the races are in tests/e2e/test_gc_race.py)."""
from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command

from registry_api.models import Manifest, RepositoryBlob
from registry_api.oci.errors import ManifestBlobUnknown
from registry_api.services import gc, manifests as manifest_service, uploads as upload_service
from registry_api.services.blobs import blob_delete, blob_linked
from registry_api.services.manifests import manifest_delete
from registry_api.services.uploads import blob_mount
from storage_backends import get_storage
from tests import builders

NOW = timedelta(0)  # a grace period of zero: everything pushed before the run is old enough


def image_with(label: str, layers: list[builders.Blob]) -> builders.Image:
    """An image over the given layers (so images can share layers)."""
    base = builders.image(label, layer_count=1)
    document = json.loads(base.manifest.data)
    document["layers"] = [layer.descriptor() for layer in layers]
    manifest = builders.Blob(json.dumps(document).encode(), base.manifest.media_type)
    return builders.Image(base.config, layers, manifest, base.platform)


def layer(label: str) -> builders.Blob:
    return builders.layer({f"{label}.txt": label.encode() * 100})[0]


@pytest.fixture
def graph(store):
    """Shared layers, an index, referrers of reachable and unreachable manifests, an untagged
    image, an untagged image with a tagged signature (kept through its subject), an
    unreferenced upload and a mount nobody uses; returns what must survive."""
    shared, a_only, b_only, e_only, stray = (layer(n) for n in ("shared", "a", "b", "e", "stray"))
    a, b = image_with("a", [shared, a_only]), image_with("b", [shared, b_only])
    c = image_with("c", [shared])
    d = image_with("d", [b_only])
    e = image_with("e", [shared, e_only])
    index = builders.index([a, b])
    signature_of_a = builders.image("sig-a", layer_count=1, subject=a.manifest, artifact_type="application/x-sig")
    signature_of_d = builders.image("sig-d", layer_count=1, subject=d.manifest, artifact_type="application/x-sig")
    f = image_with("f", [shared, layer("f")])
    signature_of_f = builders.image("sig-f", layer_count=1, subject=f.manifest, artifact_type="application/x-sig")
    for img in (a, b):
        store.push_image("lib/app", img.manifest.digest, img)
    store.push_manifest("lib/app", "multi", index)
    store.push_image("lib/app", "c", c)
    store.push_image("lib/app", signature_of_a.manifest.digest, signature_of_a)
    store.push_image("lib/app", d.manifest.digest, d)  # untagged
    store.push_image("lib/app", signature_of_d.manifest.digest, signature_of_d)  # refers to untagged d
    store.push_image("lib/app", e.manifest.digest, e)  # untagged
    store.push_image("lib/app", f.manifest.digest, f)  # untagged, but its signature is tagged:
    store.push_image("lib/app", "sha256-f.sig", signature_of_f)  # as cosign tags signatures
    store.push_blob("lib/app", stray)  # pushed, never referenced
    blob_mount(repository_name="other/x", digest=shared.digest, from_name="lib/app")  # mounted, unused
    kept_images = [a, b, c, signature_of_a, f, signature_of_f]
    return {
        "manifests": {("lib/app", m.digest) for m in [index, *(i.manifest for i in kept_images)]},
        "blobs": {blob.digest for img in kept_images for blob in img.blobs},
        "freed": {blob.digest: len(blob.data) for blob in [e_only, stray, d.config, e.config, *signature_of_d.blobs]},
        "images": kept_images,
    }


def test_keeps_exactly_the_reachable_set(store, graph):
    report = gc.gc_run(delete_untagged=True, grace_period=NOW)

    assert store.manifests() == graph["manifests"]
    assert store.blobs() == graph["blobs"]
    assert store.files() == graph["blobs"]
    assert store.links() == {("lib/app", digest) for digest in graph["blobs"]}
    assert report.manifests_deleted == 3  # d, the signature of d, e
    assert report.blobs_deleted == len(graph["freed"])
    assert report.bytes_freed == sum(graph["freed"].values())
    for img in graph["images"]:  # every kept image still reads back byte for byte
        for blob in img.blobs:
            with get_storage().open(blob.digest) as f:
                assert f.read() == blob.data


def test_without_delete_untagged_every_manifest_keeps_its_blobs(store, graph):
    before = store.manifests()
    report = gc.gc_run(grace_period=NOW)

    assert store.manifests() == before and report.manifests_deleted == 0
    stray = {layer("stray").digest}
    assert store.blobs() == store.files()
    assert stray.isdisjoint(store.blobs())  # only the never-referenced upload goes
    assert ("other/x", layer("shared").digest) not in store.links()
    assert layer("shared").digest in store.blobs()


def test_dry_run_deletes_nothing_and_says_why(store, graph):
    before = (store.manifests(), store.blobs(), store.files(), store.links())
    report = gc.gc_run(dry_run=True, delete_untagged=True, grace_period=NOW)

    assert (store.manifests(), store.blobs(), store.files(), store.links()) == before
    reasons = {item.digest: item.reason for item in report.plan.manifests}
    assert reasons[image_with("d", [layer("b")]).manifest.digest] == "untagged, and no tag, index or subject reaches it"
    assert any(r.startswith("untagged referrer of sha256:") for r in reasons.values())
    blob_reasons = {item.digest: item.reason for item in report.plan.blobs}
    assert blob_reasons[layer("stray").digest] == "its last repository link goes in this run, and no manifest references it"
    # The real run then deletes what the dry run announced.
    real = gc.gc_run(delete_untagged=True, grace_period=NOW)
    assert (real.manifests_deleted, real.links_removed, real.blobs_deleted, real.bytes_freed) == (
        report.manifests_deleted, report.links_removed, report.blobs_deleted, report.bytes_freed)


def test_young_content_is_left_alone(store, settings):
    settings.REGISTRY_GC_GRACE_PERIOD = 3600
    children = [builders.image("x"), builders.image("y")]
    for img in children:
        store.push_image("lib/young", img.manifest.digest, img)
    store.push_manifest("lib/young", builders.index(children).digest, builders.index(children))
    store.push_blob("lib/young", layer("unreferenced"))

    report = gc.gc_run(delete_untagged=True)

    assert report.plan.manifests == report.plan.links == report.plan.blobs == []
    store.age_everything()
    assert len(gc.gc_run(delete_untagged=True).plan.manifests) == 3


def test_children_and_referrers_of_a_young_untagged_manifest_are_kept(store):
    child = builders.image("child")
    store.push_image("lib/app", child.manifest.digest, child)
    store.age_everything()
    index = builders.index([child])
    store.push_manifest("lib/app", index.digest, index)  # untagged, but just pushed

    gc.gc_run(delete_untagged=True, grace_period=timedelta(hours=1))

    assert ("lib/app", child.manifest.digest) in store.manifests()
    assert {b.digest for b in child.blobs} <= store.files()


def test_a_new_push_of_a_linked_blob_restarts_its_grace_period(store):
    blob = layer("again")
    store.push_blob("lib/app", blob)
    store.age_everything()
    store.push_blob("lib/app", blob)  # the client sends it again; its manifest will follow

    gc.gc_run(grace_period=timedelta(hours=1))

    assert blob.digest in store.blobs() and blob.digest in store.files()


def test_deleting_a_tag_then_collecting_frees_the_image(store):
    img = builders.image("gone")
    store.push_image("lib/app", "v1", img)
    manifest_delete(repository_name="lib/app", reference="v1")

    gc.gc_run(delete_untagged=True, grace_period=NOW)

    assert store.manifests() == set() and store.blobs() == set() and store.files() == set()


def test_a_blob_still_referenced_by_a_manifest_survives_its_unlink(store):
    img = builders.image("kept")
    store.push_image("lib/app", "v1", img)
    blob_delete(repository_name="lib/app", digest=img.layers[0].digest)

    gc.gc_run(delete_untagged=True, grace_period=NOW)

    assert img.layers[0].digest in store.blobs() and img.layers[0].digest in store.files()


def test_a_blob_being_committed_is_not_collected_under_the_upload(store, monkeypatch):
    """The race on files: the upload has moved its verified file into place and is about to
    create the row, while a collection deletes the old, unreferenced row of the same digest."""
    blob = layer("reborn")
    store.push_blob("lib/old", blob)
    RepositoryBlob.objects.all().delete()  # the old copy: a row, a file, no link
    store.age_everything()
    register = upload_service.blob_register

    def collect_then_register(**kwargs):
        gc.gc_run(grace_period=NOW)  # runs between the file move and the row
        return register(**kwargs)

    monkeypatch.setattr(upload_service, "blob_register", collect_then_register)
    store.push_blob("lib/new", blob)

    assert blob.digest in store.blobs()
    with get_storage().open(blob.digest) as f:
        assert f.read() == blob.data


def test_a_manifest_push_racing_an_unlink_is_refused_and_leaves_nothing(store, monkeypatch):
    """The collection unlinks the layer after the client checked it exists and before the
    manifest is stored: the push must be refused, never stored naming a blob that is gone."""
    img = builders.image("late")
    for blob in img.blobs:
        store.push_blob("lib/app", blob)
    store.age_everything()
    lock = manifest_service.lock_repository

    def collect_then_lock(pk):
        gc.gc_run(grace_period=NOW)
        return lock(pk)

    monkeypatch.setattr(manifest_service, "lock_repository", collect_then_lock)
    with pytest.raises(ManifestBlobUnknown):
        store.push_manifest("lib/app", "v1", img.manifest)
    assert not Manifest.objects.exists()


def test_a_mount_restarts_the_grace_period_of_its_link(store):
    blob = layer("mounted")
    store.push_blob("lib/a", blob)
    store.push_blob("lib/b", blob)
    store.age_everything()
    assert blob_mount(repository_name="lib/b", digest=blob.digest, from_name="lib/a") is not None

    gc.gc_run(grace_period=timedelta(hours=1))

    assert ("lib/b", blob.digest) in store.links() and ("lib/a", blob.digest) not in store.links()


def test_one_summary_line_is_logged(store, graph, caplog):
    with caplog.at_level(logging.INFO, logger="registry_api.services.gc"):
        gc.gc_run(delete_untagged=True, grace_period=NOW)
    summaries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("gc done")]
    assert len(summaries) == 1 and f"blobs={len(graph['freed'])}" in summaries[0]


def test_command_dry_run_lists_items_and_draws_no_bar_off_a_terminal(store, graph):
    out = io.StringIO()
    call_command("gc", "--dry-run", "--delete-untagged", "--grace-period", "0", stdout=out)
    text = out.getvalue()
    assert "\r" not in text
    assert f"blob     {layer('stray').digest}" in text
    assert text.strip().splitlines()[-1].startswith("would delete 3 manifest(s)")
    assert store.manifests() >= graph["manifests"] and len(store.manifests()) == len(graph["manifests"]) + 3


def test_command_reports_what_it_freed(store, graph):
    out = io.StringIO()
    call_command("gc", "--delete-untagged", "--grace-period", "0s", stdout=out)
    assert f"({sum(graph['freed'].values())} bytes)" in out.getvalue()
    assert store.blobs() == graph["blobs"]


@pytest.mark.parametrize("setting, value, check_id", [
    ("REGISTRY_GC_GRACE_PERIOD", 10, "registry_api.E002"),
    ("REGISTRY_UPLOAD_PURGE_AGE", 60, "registry_api.E003"),
])
def test_too_short_housekeeping_periods_are_system_check_errors(settings, setting, value, check_id):
    from registry_api.apps import check_housekeeping_settings

    assert check_housekeeping_settings() == []
    setattr(settings, setting, value)
    assert [m.id for m in check_housekeeping_settings()] == [check_id]


def test_command_draws_a_progress_bar_on_a_terminal(store, graph):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    call_command("gc", "--delete-untagged", "--grace-period", "0", stdout=out)
    text = out.getvalue()
    assert "\rmanifests  [##############################] 3/3\n" in text
    assert "\rblobs      [" in text and text.strip().splitlines()[-1].startswith("deleted 3 manifest(s)")


def test_a_blob_a_pusher_looked_at_keeps_its_link_until_the_manifest(store):
    """HEAD an old layer (it exists: skip the upload), collection runs, push the manifest."""
    img = builders.image("looked-at")
    for blob in img.blobs:
        store.push_blob("lib/app", blob)
    store.age_everything()
    for blob in img.blobs:
        blob_linked(repository_name="lib/app", digest=blob.digest, may_push=True)

    gc.gc_run(grace_period=timedelta(hours=1))

    store.push_manifest("lib/app", "v1", img.manifest)
    assert {b.digest for b in img.blobs} <= store.files()
