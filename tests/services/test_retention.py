"""Retention policies: which tags go, by which rule; dry runs; namespace vs repository."""
from __future__ import annotations

import io
import logging
import os
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError
from django.utils import timezone

from registry_api.models import AuditEvent
from registry_api.models import Manifest, Namespace, Repository, RetentionPolicy, Tag, Upload
from registry_api.services import gc, retention
from tests import builders


@pytest.fixture
def tags(store):
    """lib/app with tags pushed 1, 2, … days ago, all on one image."""
    img = builders.image("app")

    def push(repository: str, *names_and_days: tuple[str, int]) -> None:
        store.push_image(repository, names_and_days[0][0], img)
        for name, days in names_and_days:
            store.push_manifest(repository, name, img.manifest)
            Tag.objects.filter(repository__name=repository, name=name).update(
                updated_at=timezone.now() - timedelta(days=days))

    return push


def _policy(repository: str | None = None, namespace: str | None = None, **rules) -> RetentionPolicy:
    return RetentionPolicy.objects.create(
        repository=Repository.objects.get(name=repository) if repository else None,
        namespace=Namespace.objects.get_or_create(name=namespace)[0] if namespace else None,
        **rules,
    )


def _planned() -> dict[str, str]:
    return {f"{d.repository}:{d.tag}": d.rule for d in retention.retention_plan()}


def test_keep_last_n_deletes_the_oldest(tags):
    tags("lib/app", ("v1", 4), ("v2", 3), ("v3", 2), ("v4", 1))
    policy = _policy("lib/app", keep_last=2)
    assert _planned() == {
        "lib/app:v1": f"policy #{policy.pk} [lib/app /.*/: keep last 2]: not among the 2 newest matching tags",
        "lib/app:v2": f"policy #{policy.pk} [lib/app /.*/: keep last 2]: not among the 2 newest matching tags",
    }


def test_only_tags_matching_the_whole_pattern_are_considered(tags):
    tags("lib/app", ("dev-1", 3), ("dev-2", 2), ("release", 5), ("xdev-3", 9))
    _policy("lib/app", tag_pattern=r"dev-\d+", keep_last=1)
    assert set(_planned()) == {"lib/app:dev-1"}


def test_pushed_within_days(tags):
    tags("lib/app", ("old", 40), ("new", 10))
    _policy("lib/app", keep_pushed_days=30)
    rules = _planned()
    assert set(rules) == {"lib/app:old"} and "pushed 40 day(s) ago (keeps 30 days)" in rules["lib/app:old"]


def test_a_recent_pull_keeps_an_old_tag(tags):
    tags("lib/app", ("pulled", 90), ("forgotten", 90))
    Tag.objects.filter(name="pulled").update(last_pulled_at=timezone.now() - timedelta(days=1))
    _policy("lib/app", keep_pushed_days=30, keep_pulled_days=7)
    rules = _planned()
    assert set(rules) == {"lib/app:forgotten"}
    assert "never pulled since its push 90 day(s) ago (keeps 7 days)" in rules["lib/app:forgotten"]


def test_a_tag_never_pulled_counts_as_pulled_when_it_was_pushed(tags):
    tags("lib/app", ("just-pushed", 0), ("old", 10))
    _policy("lib/app", keep_pulled_days=7)
    assert set(_planned()) == {"lib/app:old"}


def test_namespace_policies_apply_to_its_repositories_unless_they_have_their_own(tags):
    tags("team/a", ("v1", 3), ("v2", 1))
    tags("team/b", ("v1", 3), ("v2", 1))
    tags("other/c", ("v1", 3), ("v2", 1))
    _policy(namespace="team", keep_last=1)
    _policy("team/b", keep_pushed_days=5)
    assert set(_planned()) == {"team/a:v1"}  # team/b's own policy keeps both; other/ has none


def test_keeping_wins_over_another_policy(tags):
    tags("lib/app", ("v1", 50), ("v2", 1))
    _policy("lib/app", keep_last=1)
    _policy("lib/app", tag_pattern="v1", keep_pushed_days=100)
    assert _planned() == {}


def test_disabled_policies_do_nothing(tags):
    tags("lib/app", ("v1", 50), ("v2", 1))
    _policy("lib/app", keep_last=1, enabled=False)
    assert _planned() == {}


def test_dry_run_lists_and_deletes_nothing(tags):
    tags("lib/app", ("v1", 4), ("v2", 1))
    _policy("lib/app", keep_last=1)
    out = io.StringIO()
    call_command("retention", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("would delete lib/app:v1 (sha256:") and "not among the 1 newest" in lines[0]
    assert lines[-1] == "would delete 1 tag(s)" and Tag.objects.count() == 2


def test_apply_deletes_logs_and_audits_each_tag_with_its_image_and_gc_frees_the_blobs(store, tags, caplog):
    tags("lib/app", ("v1", 4))
    store.age_everything(4 * 86400)
    policy = _policy("lib/app", keep_pushed_days=1)
    out = io.StringIO()
    with caplog.at_level(logging.INFO, logger="registry_api.services.retention"):
        call_command("retention", stdout=out)
    assert not Tag.objects.exists() and not Manifest.objects.exists()  # only v1 reached it
    assert out.getvalue().splitlines()[-1] == "deleted 1 tag(s) and 1 manifest(s)"
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("retention delete"))
    assert "repository=lib/app tag=v1" in line and f"rule=policy #{policy.pk}" in line
    tag_event, manifest_event = AuditEvent.objects.filter(action="delete").order_by("pk")
    assert tag_event.actor == "retention" and tag_event.target == "v1" and tag_event.detail["rule"].startswith("policy #")
    assert manifest_event.actor == "retention" and manifest_event.detail["kind"] == "manifest"
    # Plain gc, as the housekeeping timer runs it, frees the blobs.
    assert gc.gc_run(grace_period=timedelta(0)).blobs_deleted == 3 and store.blobs() == set()


def test_retention_frees_only_what_its_tags_alone_reached(store):
    """Kept: an image another tag reaches, an image pushed by digest and never tagged, and
    a young manifest. Freed: an image with its untagged signature, an index with its child."""
    shared, alone, by_digest, young = (builders.image(n) for n in ("shared", "alone", "by-digest", "young"))
    child = builders.image("child")
    index = builders.index([child])
    signature = builders.image("sig", layer_count=1, subject=alone.manifest, artifact_type="application/x-sig")
    for name, img in (("v1", shared), ("v2", shared), ("alone", alone), (by_digest.manifest.digest, by_digest)):
        store.push_image("lib/app", name, img)
    store.push_image("lib/app", signature.manifest.digest, signature)
    store.push_image("lib/app", child.manifest.digest, child)
    store.push_manifest("lib/app", "multi", index)
    store.age_everything(10 * 86400)
    store.push_image("lib/app", "young", young)
    Tag.objects.filter(name="young").update(updated_at=timezone.now() - timedelta(days=10))
    _policy("lib/app", tag_pattern="v1|alone|multi|young", keep_pushed_days=1)

    preview = {d.tag: set(d.manifests) for d in retention.retention_apply(dry_run=True)}
    assert Tag.objects.count() == 5  # the dry run deleted nothing
    done = {d.tag: set(d.manifests) for d in retention.retention_apply()}

    assert done == preview == {
        "v1": set(), "young": set(), "alone": {alone.manifest.digest, signature.manifest.digest},
        "multi": {index.digest, child.manifest.digest},
    }
    assert store.manifests() == {("lib/app", m.digest) for m in (shared.manifest, by_digest.manifest, young.manifest)}


def test_a_tag_pushed_again_after_planning_stays(tags, monkeypatch):
    tags("lib/app", ("v1", 4), ("v2", 1))
    _policy("lib/app", keep_last=1)
    plan = retention.retention_plan

    def plan_then_push():
        decisions = plan()
        Tag.objects.get(name="v1").save()  # a push moving v1 (renews updated_at) right after planning
        return decisions

    monkeypatch.setattr(retention, "retention_plan", plan_then_push)
    assert retention.retention_apply() == []
    assert Tag.objects.filter(name="v1").exists()


def test_a_policy_needs_a_rule_and_a_valid_pattern(tags):
    tags("lib/app", ("v1", 1))
    repository = Repository.objects.get(name="lib/app")
    with pytest.raises(ValidationError):
        RetentionPolicy(repository=repository, tag_pattern="(", keep_last=1).full_clean()
    with pytest.raises(IntegrityError):
        RetentionPolicy.objects.create(repository=repository)


def test_housekeeping_purges_applies_retention_and_frees_the_space(store, tags, storage_root):
    """One pass of `manage.py housekeeping`, as the timer and the compose service run it."""
    from registry_api.services.uploads import upload_start

    tags("lib/app", ("v1", 4))
    upload = upload_start(repository_name="lib/app")
    store.age_everything(4 * 86400)
    then = time.time() - 4 * 86400
    os.utime(storage_root / "uploads" / str(upload.id), (then, then))  # idle for days
    _policy("lib/app", keep_pushed_days=1)
    out = io.StringIO()
    call_command("housekeeping", stdout=out)
    purge, retained, expired, collected, webhooks = out.getvalue().splitlines()
    assert purge == "purge_uploads: removed 1 session(s) and 0 orphan staging area(s), 0 bytes"
    assert retained == "retention: deleted 1 tag(s) and 1 manifest(s)"
    assert expired == "proxy_expire: deleted 0 cached tag(s) and 0 manifest(s)"
    assert collected.startswith("gc: deleted 3 repository link(s) and 3 blob(s), ")
    assert webhooks == "webhooks: 0 delivery attempt(s)"
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert store.manifests() == set() and store.blobs() == set() and store.files() == set()


def test_housekeeping_every_keeps_going_after_a_failed_pass(db, monkeypatch):
    from registry_api.management.commands import housekeeping as command_module

    command, passes = command_module.Command(), []

    def one_pass():
        passes.append(1)
        if len(passes) == 1:
            raise RuntimeError("the database went away")
        command.stopping.set()
        raise RuntimeError("again")

    monkeypatch.setattr(command_module.housekeeping, "housekeeping_run", one_pass)
    call_command(command, "--every", "0s", stdout=io.StringIO())
    assert len(passes) == 2
