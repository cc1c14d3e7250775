"""Pushes and deletes queue replication jobs within the request that made them, once
committed: tags through the rule's filter, referrers on their own, deletes only where the
rule replicates them, and nothing bounced back to the remote it was pulled from."""
from __future__ import annotations

import pytest

from registry_api import events
from replication.models import Job, Rule
from tests import builders
from tests.api.support import Registry

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(client, settings, data_dir_in_tmp):
    settings.REGISTRY_AUTH_ENABLED = False  # the protocol is not what is tested here
    return Registry(client)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs the block's after-commit work (where the trigger runs) at
    its end, as it runs after each request outside a test's transaction."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def jobs() -> list[tuple[str, str, str, str]]:
    return sorted(Job.objects.values_list("kind", "trigger", "repository", "reference"))


def test_a_push_queues_a_copy_of_each_tag_the_filter_lets_through(registry, rule, committed):
    img = builders.image("trigger")
    with committed():
        registry.push_image("team/app", "v1", img)
        registry.push_manifest("team/app", "latest", img.manifest)  # filtered out: not v*
        registry.push_image("other/app", "v1", builders.image("elsewhere"))  # not under team/
    assert jobs() == [("copy", "event", "team/app", "v1")]


def test_a_referrer_pushed_by_digest_is_queued_with_its_subject(registry, rule, committed):
    img = builders.image("subject")
    sbom = builders.image("sbom", layer_count=1, subject=img.manifest, artifact_type="application/spdx+json")
    with committed():
        registry.push_image("team/app", "v1", img)
        registry.push_image("team/app", sbom.manifest.digest, sbom)
    assert ("copy", "event", "team/app", sbom.manifest.digest) in jobs()


def test_deletes_are_queued_only_for_rules_that_replicate_them(registry, rule, remote, committed):
    Rule.objects.create(name="keep", remote=remote, repositories="team/**", replicate_deletes=False)
    registry.push_image("team/app", "v1", builders.image("deleted"))
    with committed():
        assert registry.client.delete("/v2/team/app/manifests/v1").status_code == 202
    deletes = Job.objects.filter(kind=Job.Kind.DELETE)
    assert [(j.rule.name, j.reference) for j in deletes] == [("team-to-b", "v1")]


def test_what_a_rule_pulled_from_a_remote_is_not_pushed_back_to_it(rule, committed):
    with committed():
        events.record(action="push", repository="team/app", target="v1", actor="replication:site-b",
                      detail={"digest": builders.image("pulled").manifest.digest, "tags": ["v1"]})
        events.record(action="push", repository="team/app", target="v2", actor="replication:site-c",
                      detail={"digest": builders.image("pulled").manifest.digest, "tags": ["v2"]})
    assert jobs() == [("copy", "event", "team/app", "v2")]
