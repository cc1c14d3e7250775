"""Deletes and extra tokens through /api/v1/: a robot with its tokens, a robot's second
token, a namespace (never while it holds repositories, and taking its grants, limited
tokens, policies and webhooks along), each leaving its audit line; and a webhook delivery
sent again, recorded under the name of who sent it."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from registry_api.models import AccessToken, AuditEvent, Grant, Namespace, RetentionPolicy, RobotAccount, Webhook
from registry_api.models import WebhookDelivery
from registry_api.services.robots import robot_create
from registry_api.services.tokens import token_create

from .conftest import docker_login


def _can_pull(client, user: str, secret: str) -> bool:
    """`docker login`, then a pull of team/app with the Bearer token it got."""
    login = docker_login(client, user, secret)
    if login.status_code != 200:
        return False
    tags = client.get("/v2/team/app/tags/list", headers={"Authorization": f"Bearer {login.json()['token']}"})
    return tags.status_code == 200


@pytest.fixture
def robot(world):
    return robot_create(username="ci-bot", namespace=Namespace.objects.get(name="team"), level="pull",
                        created_by="staff")


def test_a_robots_second_token_is_shown_once_and_listed_without_it(api, world, client, robot):
    made = api("POST", "/api/v1/robots/ci-bot/tokens/", json={"name": "second", "read_only": True})
    assert made.status_code == 201
    body = made.json()
    assert body["user"] == "ci-bot" and body["read_only"] is True and body["secret"].startswith("drm_")
    listed = api("GET", "/api/v1/robots/ci-bot/tokens/")
    assert body["secret"] not in listed.content.decode() and robot.secret not in listed.content.decode()
    assert [t["name"] for t in listed.json()["results"]] == ["second", robot.token.name]
    assert _can_pull(client, "ci-bot", body["secret"]) and _can_pull(client, "ci-bot", robot.secret)
    assert AuditEvent.objects.filter(actor="staff", target__startswith="AccessToken ci-bot: second",
                                     detail__change="created").exists()


def test_a_robots_token_takes_the_same_checks_as_anyones(api, world, robot):
    for body, field in (({"name": "x", "colour": 1}, "colour"), ({"name": "x", "expires_at": "soon"}, "expires_at")):
        refused = api("POST", "/api/v1/robots/ci-bot/tokens/", json=body)
        assert refused.status_code == 400 and field in refused.json()["fields"]
    past = api("POST", "/api/v1/robots/ci-bot/tokens/", json={"name": "x", "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400 and "past" in past.json()["message"]
    nowhere = api("POST", "/api/v1/robots/ci-bot/tokens/", json={"name": "x", "namespace": "nowhere"})
    assert nowhere.status_code == 400 and nowhere.json()["code"] == "invalid"
    assert not AccessToken.objects.filter(name="x").exists()


def test_only_robots_are_reached_through_the_robots_resource(api, world, robot):
    """A person's tokens are theirs: staff neither list nor mint them here; and one robot's
    token is not another's to revoke."""
    for method, body in (("GET", None), ("POST", {"name": "sneaky"})):
        missing = api(method, "/api/v1/robots/puller/tokens/", json=body)
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert not AccessToken.objects.filter(name="sneaky").exists()
    robot_create(username="other-bot")
    assert api("DELETE", f"/api/v1/robots/other-bot/tokens/{robot.token.pk}/").status_code == 404
    assert not AccessToken.objects.get(pk=robot.token.pk).revoked
    assert api("GET", "/api/v1/robots/no-bot/tokens/").status_code == 404


@pytest.mark.parametrize("role", ["puller", "repo_admin", "ns_admin"])
def test_robots_are_for_staff_only(api, world, robot, role):
    """Robots belong to no namespace (their grants may name several): like the admin's robot
    pages, staff only; everyone else is 403, whatever the robot."""
    for method, path in (("GET", "/api/v1/robots/ci-bot/tokens/"), ("POST", "/api/v1/robots/ci-bot/tokens/"),
                         ("DELETE", "/api/v1/robots/ci-bot/"), ("GET", "/api/v1/robots/no-bot/tokens/")):
        refused = api(method, path, role, json={"name": "x"} if method == "POST" else None)
        assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert RobotAccount.objects.filter(user__username="ci-bot").exists()


def test_deleting_a_robot_stops_its_tokens_and_takes_its_grants(api, world, client, robot):
    second = api("POST", "/api/v1/robots/ci-bot/tokens/", json={"name": "second"}).json()["secret"]
    assert _can_pull(client, "ci-bot", robot.secret)
    AuditEvent.objects.all().delete()
    assert api("DELETE", "/api/v1/robots/ci-bot/").status_code == 204
    assert not _can_pull(client, "ci-bot", robot.secret) and not _can_pull(client, "ci-bot", second)
    assert client.get("/api/v1/repositories/", headers={"Authorization": f"Bearer {second}"}).status_code == 401
    assert not User.objects.filter(username="ci-bot").exists()
    assert not Grant.objects.filter(user__username="ci-bot").exists()
    targets = set(AuditEvent.objects.filter(actor="staff", detail__change="deleted").values_list("target", flat=True))
    assert "User ci-bot" in targets and "Grant ci-bot: pull on team" in targets
    assert sum(target.startswith("AccessToken ci-bot:") for target in targets) == 2
    assert api("DELETE", "/api/v1/robots/ci-bot/").status_code == 404


def test_a_namespace_with_repositories_is_kept(api, world):
    refused = api("DELETE", "/api/v1/namespaces/team/")
    assert refused.status_code == 409 and refused.json()["code"] == "conflict"
    assert "2 repositories" in refused.json()["message"]
    assert Namespace.objects.filter(name="team").exists()
    assert Grant.objects.filter(namespace__name="team").count() == 2
    assert not AuditEvent.objects.filter(target="Namespace team", detail__change="deleted").exists()


def test_an_emptied_namespace_goes_with_what_was_limited_to_it(api, world, client):
    team = Namespace.objects.get(name="team")
    _, limited = token_create(user=world.users["puller"], name="team-only", namespace="team")
    RetentionPolicy.objects.create(namespace=team, keep_last=1)
    Webhook.objects.create(name="team-hook", url="http://127.0.0.1:9/", namespace=team)
    for name in ("team/app", "team/tool"):
        assert api("DELETE", f"/api/v1/repositories/{name}/", "ns_admin").status_code == 200
    still = api("DELETE", "/api/v1/namespaces/team/", "ns_admin")  # its admins may not: staff create and delete
    assert still.status_code == 403 and Namespace.objects.filter(name="team").exists()
    AuditEvent.objects.all().delete()
    assert api("DELETE", "/api/v1/namespaces/team/").status_code == 204
    assert not Namespace.objects.filter(name="team").exists()
    assert not Grant.objects.filter(namespace__name="team").exists() and not RetentionPolicy.objects.exists()
    assert not Webhook.objects.filter(name="team-hook").exists()
    assert not AccessToken.objects.filter(name="team-only").exists()
    assert client.get("/api/v1/repositories/", headers={"Authorization": f"Bearer {limited}"}).status_code == 401
    targets = set(AuditEvent.objects.filter(actor="staff", detail__change="deleted").values_list("target", flat=True))
    assert {"Namespace team", "Grant puller: pull on team", "Grant ns_admin: admin on team"} <= targets
    assert any(target.startswith("AccessToken puller: team-only") for target in targets)
    assert api("DELETE", "/api/v1/namespaces/team/").status_code == 404


@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("puller", 404), ("repo_admin", 404),
                                              ("ns_admin", 404)])
def test_others_may_not_delete_a_namespace(api, world, role, status):
    """`other` is nobody's here but its own admin's and staff's: unseen, so 404."""
    Namespace.objects.create(name="spare")
    for name in ("other", "spare"):
        assert api("DELETE", f"/api/v1/namespaces/{name}/", role).status_code == status
    assert Namespace.objects.filter(name__in=["other", "spare"]).count() == 2


def test_sending_a_delivery_again_is_audited(api, world):
    hook = Webhook.objects.create(name="hook", url="http://127.0.0.1:9/hook")
    delivery = WebhookDelivery.objects.create(webhook=hook, event="push", payload={"a": 1},
                                              next_attempt_at=timezone.now())
    AuditEvent.objects.all().delete()
    again = api("POST", f"/api/v1/webhooks/{hook.pk}/deliveries/{delivery.pk}/redeliver/")
    assert again.status_code == 200
    event = AuditEvent.objects.get(detail__change="redelivered")
    assert event.actor == "staff" and event.action == "permission" and str(delivery.pk) in event.target
    assert event.detail["event"] == "push" and event.detail["status"] == again.json()["status"]
