"""Robot accounts: staff create one in the admin (user, first token shown once, optional
grant); it works with docker-style Basic credentials and never with a password."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages

from registry_api.auth.credentials import TOKEN_PREFIX
from registry_api.models import AccessToken, Grant, Namespace, RobotAccount

from .conftest import basic

pytestmark = pytest.mark.django_db


def create_robot(client, **fields):
    data = {"username": "ci-bot", "description": "pushes team images", "namespace": "", "level": "",
            "expires_at_0": "", "expires_at_1": "", **fields}
    return client.post("/admin/registry_api/robotaccount/add/", data, follow=True)


def secret_of(response) -> str:
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    secret = next(m for m in messages if "again: " in m).split("again: ", 1)[1].split()[0]
    assert secret.startswith(TOKEN_PREFIX) and sum(secret in m for m in messages) == 1
    return secret


def test_a_robot_made_in_the_admin_pushes_with_its_token(client, users):
    client.force_login(users["root"])
    response = create_robot(client, namespace=Namespace.objects.get(name="team").pk, level="push")
    assert response.status_code == 200
    secret = secret_of(response)
    robot = RobotAccount.objects.select_related("user").get()
    assert robot.user.username == "ci-bot" and not robot.user.has_usable_password()
    assert robot.created_by == "root" and robot.description == "pushes team images"
    assert Grant.objects.filter(user=robot.user, namespace__name="team", level="push").exists()
    assert AccessToken.objects.get(user=robot.user).name == "first token"
    assert secret not in client.get(f"/admin/registry_api/robotaccount/{robot.pk}/change/").content.decode()
    client.logout()
    assert client.post("/v2/team/app/blobs/uploads/", **basic("ci-bot", secret)).status_code == 202
    assert client.post("/v2/other/app/blobs/uploads/", **basic("ci-bot", secret)).status_code == 403


def test_a_robot_cannot_sign_in_with_a_password(client, users):
    client.force_login(users["root"])
    create_robot(client)
    client.logout()
    for password in ("", "!", "ci-bot"):
        assert client.get("/v2/", **basic("ci-bot", password)).status_code == 401
        client.post("/login/", {"username": "ci-bot", "password": password})
        assert "_auth_user_id" not in client.session


def test_a_read_only_first_token_only_pulls(client, users):
    client.force_login(users["root"])
    secret = secret_of(create_robot(client, namespace=Namespace.objects.get(name="team").pk, level="push",
                                    read_only="on"))
    client.logout()
    assert client.get("/v2/team/app/tags/list", **basic("ci-bot", secret)).status_code == 404  # allowed
    assert client.post("/v2/team/app/blobs/uploads/", **basic("ci-bot", secret)).status_code == 403


def test_robots_are_listed_apart_from_people(client, users):
    client.force_login(users["root"])
    create_robot(client)
    robots = client.get("/admin/registry_api/robotaccount/").content.decode()
    assert "ci-bot" in robots and "alice" not in robots
    only_robots = client.get("/admin/auth/user/?robot=yes").content.decode()
    assert "ci-bot" in only_robots and "alice" not in only_robots
    people = client.get("/admin/auth/user/?robot=no").content.decode()
    assert "ci-bot" not in people and "alice" in people


def test_names_in_use_and_half_a_grant_are_refused(client, users):
    client.force_login(users["root"])
    assert "exists already" in create_robot(client, username="alice").content.decode()
    assert "or neither" in create_robot(client, level="push").content.decode()
    assert not RobotAccount.objects.exists()


def test_staff_who_may_not_create_users_may_not_create_robots(client, users):
    staff = User.objects.create_user("clerk", password="clerk-pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["add_robotaccount", "view_robotaccount"]))
    client.force_login(staff)
    assert client.get("/admin/registry_api/robotaccount/add/").status_code == 403
