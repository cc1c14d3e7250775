"""Retention policies: which tags go, by which rule; dry runs; namespace vs repository."""
from __future__ import annotations

import io
import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError
from django.utils import timezone

from registry_api.events.models import AuditEvent
from registry_api.models import Manifest, Namespace, Repository, RetentionPolicy, Tag
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
    assert set(rules) == {"lib/app:forgotten"} and "pulled never (keeps 7 days)" in rules["lib/app:forgotten"]


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


def test_apply_deletes_logs_and_audits_each_tag_and_gc_then_frees_the_image(tags, caplog):
    tags("lib/app", ("v1", 4))
    Tag.objects.filter(name="v1").update(updated_at=timezone.now() - timedelta(days=4))
    policy = _policy("lib/app", keep_pushed_days=1)
    with caplog.at_level(logging.INFO, logger="registry_api.services.retention"):
        call_command("retention", stdout=io.StringIO())
    assert not Tag.objects.exists()
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("retention delete"))
    assert "repository=lib/app tag=v1" in line and f"rule=policy #{policy.pk}" in line
    event = AuditEvent.objects.get(action="delete")
    assert event.actor == "retention" and event.target == "v1" and event.detail["rule"].startswith("policy #")
    assert Manifest.objects.exists()  # the manifest stays until garbage collection
    gc.gc_run(delete_untagged=True, grace_period=timedelta(0))
    assert not Manifest.objects.exists()


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
