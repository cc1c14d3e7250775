"""A repository's replication page: the rules covering it for everyone who may pull it,
and "Replicate now" for its admins only, which queues a pass of this repository alone."""
from __future__ import annotations

import pytest

from replication.models import Job, Remote, Rule, Run

from .conftest import Content

pytestmark = pytest.mark.django_db

PAGE = "/repositories/team/app/-/replication/"
RUN = "/repositories/team/app/-/replication/run/"


@pytest.fixture
def rules(db) -> dict[str, Rule]:
    remote = Remote.objects.create(name="site-b", upstream_url="https://b.example.com")
    made = {
        "push": Rule.objects.create(name="team-to-b", remote=remote, repositories="team/**"),
        "pull": Rule.objects.create(name="from-b", remote=remote, repositories="app", destination_prefix="team",
                                    direction="pull"),
        "other": Rule.objects.create(name="others", remote=remote, repositories="elsewhere/**"),
    }
    job = Job.objects.create(rule=made["push"], kind="copy", trigger="event", repository="team/app",
                             reference="v1", status="done", next_attempt_at="2026-01-01T00:00Z")
    from django.utils import timezone

    Run.objects.create(job=job, succeeded=False, artifacts_copied=2, artifacts_failed=1, finished_at=timezone.now())
    return made


def test_readers_see_the_rules_covering_the_repository_without_the_button(as_person, content: Content, rules):
    page = as_person("reader").get(PAGE).content.decode()
    assert "team-to-b" in page and "from-b" in page and "others" not in page
    assert "failed, 2 copied, 1 failed" in page
    assert "from the remote&#x27;s app" in page or "from the remote's app" in page
    assert "Replicate now" not in page
    assert as_person("reader").post(RUN, {"rule": rules["push"].pk}).status_code == 403
    assert not Job.objects.filter(trigger="manual").exists()


def test_admins_queue_a_pass_of_this_repository_alone(as_person, content: Content, rules):
    owner = as_person("owner")
    assert "Replicate now" in owner.get(PAGE).content.decode()
    response = owner.post(RUN, {"rule": rules["pull"].pk}, follow=True)
    assert "is queued" in response.content.decode()
    (job,) = Job.objects.filter(trigger="manual")
    assert (job.rule, job.kind, job.repository) == (rules["pull"], "sync", "app")  # the remote's name


def test_a_rule_that_does_not_cover_the_repository_is_refused(as_person, content: Content, rules):
    response = as_person("owner").post(RUN, {"rule": rules["other"].pk}, follow=True)
    assert "No enabled replication rule" in response.content.decode()
    response = as_person("owner").post(RUN, {"rule": "not-a-number"}, follow=True)
    assert response.status_code == 200 and not Job.objects.filter(trigger="manual").exists()


def test_visitors_who_may_not_pull_do_not_see_it(as_person, content: Content, rules):
    assert as_person("anonymous").get(PAGE).status_code == 302  # sign in first
