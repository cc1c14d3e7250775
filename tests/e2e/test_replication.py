"""Replication against real registries: Debian's Distribution as an anonymous remote, and
a second instance of this registry with token auth. Images are pushed here over HTTP,
the worker runs as `manage.py replicate` (once, or as its looping service), and what
arrived is read back from the remote byte for byte."""
from __future__ import annotations

import re
import time

import pytest

from tests import builders

from .conftest import ADMIN_PASSWORD, _running_registry
from .replication_support import (
    MisbehavingRemote, Relay, configure, manifest_digest, push_image, replicate_now, run_worker_once,
    running_distribution, running_worker, runs,
)
from .support import stop_process

pytestmark = pytest.mark.e2e

# Failed jobs come back after a second, not the default half minute.
WORKER_ENV = {"REGISTRY_REPLICATION_BACKOFF_SECONDS": "1", "REGISTRY_REPLICATION_CHUNK_SIZE": str(1024 * 1024)}


@pytest.fixture(scope="module")
def replication_here(tmp_path_factory):
    """The registry under test, as installed (access control on)."""
    with _running_registry(tmp_path_factory.mktemp("replication-here"), auth=True, **WORKER_ENV) as registry:
        yield registry


@pytest.fixture(scope="module")
def replication_other(tmp_path_factory):
    """A second instance of this registry, with token auth: a remote that asks for the
    Docker token protocol."""
    with _running_registry(tmp_path_factory.mktemp("replication-other"), auth=True) as registry:
        yield registry


@pytest.fixture(scope="module")
def distribution(tmp_path_factory):
    with running_distribution(tmp_path_factory.mktemp("distribution")) as (registry, _proc):
        yield registry


def assert_same_image(remote, name: str, reference: str, img: builders.Image) -> None:
    got = remote.manifest(name, reference, accept=img.manifest.media_type)
    assert got.status == 200, got.body
    assert got.body == img.manifest.data
    assert got.headers["Docker-Content-Digest"] == img.manifest.digest
    for blob in img.blobs:
        pulled = remote.request("GET", f"/v2/{name}/blobs/{blob.digest}")
        assert pulled.status == 200 and pulled.body == blob.data, blob.digest


def push_index_with_referrer(registry, name: str, tag: str, label: str) -> tuple[list, builders.Blob, builders.Image]:
    """Two platforms, their index under `tag`, and an artifact whose subject is the index."""
    platforms = [builders.image(label, architecture=arch) for arch in ("amd64", "arm64")]
    index = builders.index(platforms)
    for img in platforms:
        push_image(registry, name, img.manifest.digest, img)
    push_image(registry, name, tag, manifest=index)
    referrer = builders.image(f"{label}-sbom", layer_count=1, subject=index, artifact_type="application/spdx+json")
    push_image(registry, name, referrer.manifest.digest, referrer)
    return platforms, index, referrer


def assert_same_index_and_referrer(remote, name: str, tag: str, platforms: list, index: builders.Blob,
                                   referrer: builders.Image) -> None:
    got = remote.manifest(name, tag, accept=builders.OCI_INDEX)
    assert got.body == index.data and got.headers["Docker-Content-Digest"] == index.digest
    for img in [*platforms, referrer]:
        assert_same_image(remote, name, img.manifest.digest, img)
    referrers = remote.request("GET", f"/v2/{name}/referrers/{index.digest}").json()
    assert [d["digest"] for d in referrers["manifests"]] == [referrer.manifest.digest]


def test_push_rule_copies_an_image_byte_for_byte_and_a_second_pass_sends_nothing(replication_here, distribution):
    configure(replication_here, remote="dist", url=distribution.base_url, rule="to-dist",
              repositories="team/**", destination_prefix="mirror", direction="push")
    img = builders.image("replicated-push", padding=3 * 1024 * 1024)  # three chunks and a bit
    push_image(replication_here, "team/app", "v1", img)
    run_worker_once(replication_here)  # the push queued the job

    assert_same_image(distribution, "mirror/team/app", "v1", img)
    first = runs(replication_here, "to-dist")[-1]
    assert first["succeeded"] and first["kind"] == "copy"
    assert {(a["kind"], a["state"]) for a in first["artifacts"]} == {("blob", "copied"), ("manifest", "copied")}
    assert sum(a["bytes"] for a in first["artifacts"]) == sum(len(b.data) for b in img.blobs) + len(img.manifest.data)

    audit = replication_here.manage("shell", "-c", (
        "from registry_api.models import AuditEvent\n"
        "e = AuditEvent.objects.filter(action='replication', target='to-dist').first()\n"
        "print(e.actor, e.detail['succeeded'], e.detail['copied'])\n"
    ))
    assert audit.split()[-3:] == ["replication:dist", "True", str(len(first["artifacts"]))]  # an audit event per run

    replicate_now(replication_here, "to-dist")  # a full pass, by hand
    run_worker_once(replication_here)
    second = runs(replication_here, "to-dist")[-1]
    assert second["succeeded"] and second["kind"] == "sync"
    assert [a["state"] for a in second["artifacts"]] == ["skipped"]  # the remote's tag already names it


def test_a_layer_sent_to_one_repository_is_mounted_into_the_next(replication_here, distribution):
    configure(replication_here, remote="dist", url=distribution.base_url, rule="mounts",
              repositories="shared/*", direction="push")
    img = builders.image("replicated-mount")
    push_image(replication_here, "shared/one", "v1", img)
    run_worker_once(replication_here)
    push_image(replication_here, "shared/two", "v1", img)
    run_worker_once(replication_here)

    last = runs(replication_here, "mounts")[-1]
    assert {a["state"] for a in last["artifacts"] if a["kind"] == "blob"} == {"mounted"}
    assert_same_image(distribution, "shared/two", "v1", img)


def test_an_index_and_its_referrer_go_to_a_registry_with_token_auth(replication_here, replication_other):
    configure(replication_here, remote="other", url=replication_other.base_url, username="admin",
              password=ADMIN_PASSWORD, rule="to-other", repositories="multi/app", direction="push")
    pushed = push_index_with_referrer(replication_here, "multi/app", "v2", "replicated-index")
    run_worker_once(replication_here)

    assert_same_index_and_referrer(replication_other, "multi/app", "v2", *pushed)
    assert all(r["succeeded"] for r in runs(replication_here, "to-other"))


def test_a_layer_is_mounted_on_a_token_auth_remote_with_one_token_for_both_repositories(
        replication_here, replication_other):
    configure(replication_here, remote="other", url=replication_other.base_url, username="admin",
              password=ADMIN_PASSWORD, rule="token-mounts", repositories="mounted/*", direction="push")
    img = builders.image("replicated-token-mount")
    push_image(replication_here, "mounted/one", "v1", img)
    run_worker_once(replication_here)
    log_start = replication_other.log.size()
    push_image(replication_here, "mounted/two", "v1", img)
    run_worker_once(replication_here)

    last = runs(replication_here, "token-mounts")[-1]
    assert last["succeeded"]
    assert {a["state"] for a in last["artifacts"] if a["kind"] == "blob"} == {"mounted"}  # the remote said 201
    remote_log = replication_other.log.read(log_start)
    mounts = re.findall(r'"POST /v2/mounted/two/blobs/uploads/\?mount=\S+ HTTP/1\.1" (\d+)', remote_log)
    assert mounts and set(mounts) == {"201"}, remote_log[-2000:]
    assert "PATCH /v2/mounted/two/" not in remote_log and "PUT /v2/mounted/two/blobs/" not in remote_log  # no upload
    assert_same_image(replication_other, "mounted/two", "v1", img)


def test_pull_rule_brings_an_image_here_through_the_registrys_own_services(replication_here, distribution):
    img = builders.image("replicated-pull")
    push_image(distribution, "vendor/tool", "1.0", img)
    push_image(distribution, "vendor/tool", "nightly", builders.image("replicated-pull-nightly"))
    configure(replication_here, remote="dist", url=distribution.base_url, rule="from-dist",
              repositories="vendor/tool", tag_filter="/[0-9.]+/", destination_prefix="imported", direction="pull")
    replicate_now(replication_here, "from-dist", "vendor/tool")  # the portal's button: one repository
    run_worker_once(replication_here)

    assert_same_image(replication_here, "imported/vendor/tool", "1.0", img)
    assert manifest_digest(replication_here, "imported/vendor/tool", "nightly") is None  # the filter said no
    audit = replication_here.manage("shell", "-c", (
        "from registry_api.models import AuditEvent\n"
        "print(sorted(set(AuditEvent.objects.filter(repository='imported/vendor/tool')"
        ".values_list('action', 'actor'))))\n"
    ))
    assert "('push', 'replication:dist')" in audit  # quotas, audit and webhooks saw a push


def test_pull_rule_with_a_glob_brings_an_index_and_its_referrer_from_a_token_auth_registry(
        replication_here, replication_other):
    pushed = push_index_with_referrer(replication_other, "upstream/multi", "v3", "pulled-index")
    push_image(replication_other, "unrelated/app", "v3", builders.image("pulled-unrelated"))
    configure(replication_here, remote="other", url=replication_other.base_url, username="admin",
              password=ADMIN_PASSWORD, rule="from-other", repositories="upstream/**",
              destination_prefix="downstream", direction="pull")
    replicate_now(replication_here, "from-other")
    run_worker_once(replication_here)

    assert_same_index_and_referrer(replication_here, "downstream/upstream/multi", "v3", *pushed)
    assert manifest_digest(replication_here, "downstream/unrelated/app", "v3") is None  # the glob said no
    assert runs(replication_here, "from-other")[-1]["succeeded"]


def test_a_tag_move_reaches_the_remote_within_seconds_with_the_worker_running(replication_here, distribution):
    configure(replication_here, remote="dist", url=distribution.base_url, rule="live",
              repositories="live/**", direction="push")
    with running_worker(replication_here):
        for label in ("before", "after"):
            img = builders.image(f"replicated-move-{label}")
            started = time.monotonic()
            push_image(replication_here, "live/app", "stable", img)
            while manifest_digest(distribution, "live/app", "stable") != img.manifest.digest:
                assert time.monotonic() - started < 10, f"tag move ({label}) not replicated within 10 s"
                time.sleep(0.1)


def test_deletes_are_replicated_only_where_the_rule_says_so(replication_here, replication_other):
    for name, replicate_deletes in (("gone", True), ("kept", False)):
        configure(replication_here, remote="other", url=replication_other.base_url, username="admin",
                  password=ADMIN_PASSWORD, rule=f"deletes-{name}", repositories=f"{name}/*",
                  replicate_deletes=replicate_deletes, direction="push")
        img = builders.image(f"replicated-delete-{name}")
        push_image(replication_here, f"{name}/app", "v1", img)
        run_worker_once(replication_here)
        assert manifest_digest(replication_other, f"{name}/app", "v1") == img.manifest.digest
        deleted = replication_here.request("DELETE", f"/v2/{name}/app/manifests/v1")
        assert deleted.status == 202
        run_worker_once(replication_here)

    assert manifest_digest(replication_other, "gone/app", "v1") is None
    assert runs(replication_here, "deletes-gone")[-1]["artifacts"][0]["state"] == "deleted"
    assert manifest_digest(replication_other, "kept/app", "v1") is not None


def test_a_remote_stopped_mid_blob_resumes_after_its_restart_and_never_shows_half_an_image(
        replication_here, tmp_path):
    img = builders.image("replicated-resume", padding=6 * 1024 * 1024)
    root = tmp_path / "flaky"
    with running_distribution(root) as (remote, proc):
        port = int(remote.host.rsplit(":", 1)[1])
        relay = Relay(port)
        try:
            configure(replication_here, remote="flaky", url=f"http://127.0.0.1:{relay.port}", rule="resume",
                      repositories="resume/**", direction="push")
            relay.cut_after = 3 * 1024 * 1024  # the config went through; the big layer is on its way
            relay.on_cut = lambda: stop_process(proc)
            push_image(replication_here, "resume/app", "v1", img)
            run_worker_once(replication_here)
            assert proc.poll() is not None, "the remote was never stopped: the blob was not cut"
            first = runs(replication_here, "resume")[-1]
            assert not first["succeeded"] and first["status"] == "pending"  # to be retried
            assert [a["state"] for a in first["artifacts"]] == ["copied", "failed"]  # config, then the image

            with running_distribution(root, port) as (restarted, _proc):
                assert manifest_digest(restarted, "resume/app", "v1") is None  # no half image over there
                assert restarted.request("GET", "/v2/resume/app/tags/list").status == 404
                time.sleep(1.2)  # the retry's backoff
                run_worker_once(replication_here)
                second = runs(replication_here, "resume")[-1]
                assert second["succeeded"], second
                states = {a["digest"]: a["state"] for a in second["artifacts"] if a["kind"] == "blob"}
                assert states[img.config.digest] == "skipped"  # arrived the first time: not sent again
                assert states[img.layers[0].digest] == "copied"
                assert_same_image(restarted, "resume/app", "v1", img)
        finally:
            relay.close()


def test_wrong_credentials_fail_that_artifact_clearly_and_nothing_arrives(replication_here, replication_other):
    configure(replication_here, remote="other-wrong", url=replication_other.base_url, username="admin",
              password="not-the-password", rule="wrong-creds", repositories="creds/*", direction="push")
    push_image(replication_here, "creds/app", "v1", builders.image("replicated-creds"))
    run_worker_once(replication_here)

    (run,) = runs(replication_here, "wrong-creds")
    assert not run["succeeded"]
    (failure,) = run["artifacts"]
    assert failure["state"] == "failed" and "refused user admin" in failure["error"]
    assert "check the credentials" in failure["error"]
    assert "not-the-password" not in replication_here.log.read()
    assert manifest_digest(replication_other, "creds/app", "v1") is None


def test_a_wrong_digest_an_oversized_manifest_or_a_redirect_elsewhere_fails_only_that_artifact(replication_here):
    names = ("good/app", "bad/digest", "bad/oversized", "bad/redirect")
    images = {name: builders.image(f"misbehaving-{name}") for name in names}
    remote = MisbehavingRemote("puller", "pull-secret", images)
    try:
        configure(replication_here, remote="misbehaving", url=remote.base_url, username="puller",
                  password="pull-secret", rule="from-misbehaving", repositories="\n".join(names),
                  destination_prefix="checked", direction="pull")
        replicate_now(replication_here, "from-misbehaving")
        run_worker_once(replication_here)
    finally:
        remote.close()

    (run,) = runs(replication_here, "from-misbehaving")
    failures = {a["repository"]: a["error"] for a in run["artifacts"] if a["state"] == "failed"}
    assert set(failures) == {"checked/bad/digest", "checked/bad/oversized", "checked/bad/redirect"}
    assert "hashes to" in failures["checked/bad/digest"]
    assert "over the 4194304-byte limit" in failures["checked/bad/oversized"]
    assert "answered 403" in failures["checked/bad/redirect"]
    assert remote.authorization_elsewhere and not any(remote.authorization_elsewhere)  # never forwarded
    assert_same_image(replication_here, "checked/good/app", "v1", images["good/app"])
    for name in names[1:]:
        assert manifest_digest(replication_here, f"checked/{name}", "v1") is None


def test_a_pull_rule_that_replicates_deletes_removes_here_what_the_remote_deleted(replication_here, distribution):
    keep, drop = builders.image("pruned-keep"), builders.image("pruned-drop")
    push_image(distribution, "prune/app", "keep", keep)
    push_image(distribution, "prune/app", "drop", drop)
    configure(replication_here, remote="dist", url=distribution.base_url, rule="prune-here",
              repositories="prune/app", destination_prefix="pruned", replicate_deletes=True, direction="pull")
    replicate_now(replication_here, "prune-here")
    run_worker_once(replication_here)
    assert manifest_digest(replication_here, "pruned/prune/app", "drop") == drop.manifest.digest

    assert distribution.request("DELETE", f"/v2/prune/app/manifests/{drop.manifest.digest}").status == 202
    replicate_now(replication_here, "prune-here")
    run_worker_once(replication_here)
    assert manifest_digest(replication_here, "pruned/prune/app", "drop") is None
    assert manifest_digest(replication_here, "pruned/prune/app", "keep") == keep.manifest.digest
    deletes = [a for a in runs(replication_here, "prune-here")[-1]["artifacts"] if a["kind"] == "delete"]
    assert [(a["tag"], a["state"]) for a in deletes] == [("drop", "deleted")]


def test_a_full_pass_deletes_on_the_remote_what_was_deleted_here_while_no_event_reached_it(
        replication_here, replication_other):
    configure(replication_here, remote="other", url=replication_other.base_url, username="admin",
              password=ADMIN_PASSWORD, rule="sweep", repositories="sweep/*", replicate_deletes=True, direction="push")
    for tag in ("keep", "drop"):
        push_image(replication_here, "sweep/app", tag, builders.image(f"sweep-{tag}"))
    run_worker_once(replication_here)
    assert replication_here.request("DELETE", "/v2/sweep/app/manifests/drop").status == 202
    replication_here.manage("shell", "-c", "from replication.models import Job\n"
                                           "Job.objects.filter(kind='delete').delete()\n")  # the event was missed
    replicate_now(replication_here, "sweep")
    run_worker_once(replication_here)
    assert manifest_digest(replication_other, "sweep/app", "drop") is None
    assert manifest_digest(replication_other, "sweep/app", "keep") is not None


def test_a_tag_delete_refused_by_distribution_deletes_the_manifest_only_when_no_other_tag_names_it(
        replication_here, distribution):
    configure(replication_here, remote="dist", url=distribution.base_url, rule="untag",
              repositories="untag/*", replicate_deletes=True, direction="push")
    shared, alone = builders.image("untag-shared"), builders.image("untag-alone")
    for tag, img in (("v1", shared), ("latest", shared), ("solo", alone)):
        push_image(replication_here, "untag/app", tag, img)
    run_worker_once(replication_here)
    refused = distribution.request("DELETE", "/v2/untag/app/manifests/solo")
    # Distribution 2.x deletes manifests, not tags; 2.8 says so as a 400 DIGEST_INVALID.
    assert refused.status in (400, 405) and (b"DIGEST_INVALID" in refused.body or b"UNSUPPORTED" in refused.body)

    for tag in ("solo", "v1"):
        assert replication_here.request("DELETE", f"/v2/untag/app/manifests/{tag}").status == 202
        run_worker_once(replication_here)

    solo_run, v1_run = runs(replication_here, "untag")[-2:]
    assert solo_run["succeeded"] and solo_run["artifacts"][0]["state"] == "deleted"
    assert manifest_digest(distribution, "untag/app", "solo") is None  # deleted by digest: no tag named it
    assert v1_run["succeeded"], v1_run  # not a failure: the remote cannot do it
    assert v1_run["artifacts"][0]["state"] == "skipped"
    assert "the remote cannot delete tags, and latest still name" in v1_run["artifacts"][0]["error"]
    assert manifest_digest(distribution, "untag/app", "latest") == shared.manifest.digest  # left intact


def test_a_pull_pass_reads_every_page_of_the_remotes_tags_and_prunes_nothing_it_still_has(
        replication_here, replication_other):
    images = {f"r{i}": builders.image(f"paged-{i}") for i in range(5)}
    for tag, img in images.items():
        push_image(replication_other, "paged/app", tag, img)
    configure(replication_here, remote="other", url=replication_other.base_url, username="admin",
              password=ADMIN_PASSWORD, rule="paged", repositories="paged/app", destination_prefix="paged-here",
              replicate_deletes=True, direction="pull")
    for _ in range(2):  # the second pass would prune whatever a first page left out
        replicate_now(replication_here, "paged")
        run_worker_once(replication_here, REGISTRY_PAGE_MAX="2")  # asks n=2: the remote pages with Link
        assert runs(replication_here, "paged")[-1]["succeeded"]

    for tag, img in images.items():
        assert manifest_digest(replication_here, "paged-here/paged/app", tag) == img.manifest.digest, tag
    assert not [a for a in runs(replication_here, "paged")[-1]["artifacts"] if a["kind"] == "delete"]
