"""The replication admin: a remote's password is write-only and stored encrypted, "test
connection" says what the remote answered, "replicate now" queues a full pass."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from registry_api.proxy.credentials import password_decrypt
from replication.models import Job, Remote, Rule
from tests import builders
from tests.e2e.replication_support import MisbehavingRemote

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("root-repl", password="x"))
    return client


@pytest.fixture
def basic_remote():
    server = MisbehavingRemote("robot", "s3cret-token", {"good/app": builders.image("admin")})
    yield server
    server.close()


def add_remote(staff, url: str, password: str) -> Remote:
    response = staff.post("/admin/replication/remote/add/", {
        "name": "site-b", "upstream_url": url, "username": "robot", "password": password, "max_concurrent": 2,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    return Remote.objects.get(name="site-b")


def test_the_password_is_stored_encrypted_and_never_shown_again(staff, basic_remote):
    remote = add_remote(staff, basic_remote.base_url, "s3cret-token")
    assert "s3cret-token" not in remote.password_encrypted
    assert password_decrypt(remote.password_encrypted) == "s3cret-token"
    page = staff.get(f"/admin/replication/remote/{remote.pk}/change/").content.decode()
    assert "s3cret-token" not in page and remote.password_encrypted not in page
    assert "yes (encrypted)" in page


def test_test_connection_reports_success_and_refusal(staff, basic_remote):
    good = add_remote(staff, basic_remote.base_url, "s3cret-token")
    action = {"action": "test_connection", "_selected_action": [good.pk]}
    page = staff.post("/admin/replication/remote/", action, follow=True).content.decode()
    assert "Remote site-b: connected and authenticated." in page

    staff.post(f"/admin/replication/remote/{good.pk}/change/", {
        "name": "site-b", "upstream_url": basic_remote.base_url, "username": "robot", "password": "wrong",
        "max_concurrent": 2,
    })
    page = staff.post("/admin/replication/remote/", action, follow=True).content.decode()
    assert "Remote site-b: remote refused user robot" in page
    assert "wrong" not in page.split("site-b: remote refused", 1)[1][:200]


def test_an_unreachable_remote_is_a_clear_message_not_an_error_page(staff):
    remote = Remote.objects.create(name="nowhere", upstream_url="http://127.0.0.1:9")
    response = staff.post("/admin/replication/remote/", {"action": "test_connection",
                                                          "_selected_action": [remote.pk]}, follow=True)
    assert response.status_code == 200
    assert "Remote nowhere: 127.0.0.1:9 unreachable" in response.content.decode()


def test_replicate_now_queues_a_full_pass(staff):
    remote = Remote.objects.create(name="site-c", upstream_url="http://127.0.0.1:9")
    rule = Rule.objects.create(name="all", remote=remote, repositories="**")
    staff.post("/admin/replication/rule/", {"action": "run_now", "_selected_action": [rule.pk]})
    (job,) = Job.objects.all()
    assert (job.kind, job.trigger, job.status) == ("sync", "manual", "pending")


def test_a_rule_with_a_broken_tag_regex_is_refused_with_the_reason(staff):
    remote = Remote.objects.create(name="site-d", upstream_url="http://127.0.0.1:9")
    page = staff.post("/admin/replication/rule/add/", {
        "name": "broken", "remote": remote.pk, "direction": "push", "repositories": "team/**",
        "tag_filter": "/v[0-9/", "include_referrers": "on", "enabled": "on",
    }).content.decode()
    assert "tag regex" in page and not Rule.objects.exists()
