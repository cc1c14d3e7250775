"""A repository's settings page: its admins (the admin level) change the public flag,
immutable tags and the grants given on it, and each change takes effect on /v2/."""
from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Group

from registry_api.models import AuditEvent
from registry_api.models import Grant, Repository

from .conftest import Content

pytestmark = pytest.mark.django_db

PAGE = "/repositories/team/app/-/settings/"


def basic(username: str, password: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_the_page_shows_own_and_namespace_grants(as_person, content: Content):
    page = as_person("owner").get(PAGE).content.decode()
    assert "namespace team" in page and "reader" in page and 'id="grant-form"' in page


def test_public_and_immutable_flags_take_effect(as_person, client, content: Content):
    response = as_person("owner").post(PAGE, {"action": "settings", "public": "on", "immutable_tags": "on"}, follow=True)
    assert "Settings saved." in response.content.decode()
    repository = Repository.objects.get(name="team/app")
    assert repository.public and repository.immutable_tags
    client.logout()
    assert client.get("/repositories/team/app/").status_code == 200  # anonymous now
    assert AuditEvent.objects.filter(action="permission", actor="owner", target__contains="team/app").exists()


def test_a_grant_given_here_takes_effect_and_can_be_removed(as_person, client, people, content: Content):
    owner = as_person("owner")
    assert client.post("/v2/team/app/blobs/uploads/", **basic("reader", "reader-pw")).status_code == 403
    owner.post(PAGE, {"action": "grant", "who": "reader", "level": "push"})
    grant = Grant.objects.get(repository__name="team/app", user=people["reader"])
    assert grant.level == "push"
    owner.logout()
    assert client.post("/v2/team/app/blobs/uploads/", **basic("reader", "reader-pw")).status_code == 202
    assert client.post("/v2/team/copy/blobs/uploads/", **basic("reader", "reader-pw")).status_code == 403
    as_person("owner").post(PAGE, {"action": "revoke", "grant": grant.pk})
    assert not Grant.objects.filter(pk=grant.pk).exists()


def test_groups_are_named_with_a_prefix(as_person, people, content: Content):
    group = Group.objects.create(name="ops")
    as_person("owner").post(PAGE, {"action": "grant", "who": "group:ops", "level": "delete"})
    assert Grant.objects.get(repository__name="team/app", group=group).level == "delete"


def test_unknown_people_and_other_repositories_grants_are_refused(as_person, people, content: Content):
    owner = as_person("owner")
    response = owner.post(PAGE, {"action": "grant", "who": "nobody", "level": "push"})
    assert response.status_code == 200 and "No such user." in response.content.decode()
    elsewhere = Grant.objects.create(repository=Repository.objects.get(name="secret/box"), user=people["reader"])
    response = owner.post(PAGE, {"action": "revoke", "grant": elsewhere.pk}, follow=True)
    assert "No such grant." in response.content.decode()
    assert Grant.objects.filter(pk=elsewhere.pk).exists()


def test_a_deleter_cannot_reach_it(as_person, content: Content):
    assert as_person("deleter").post(PAGE, {"action": "settings", "public": "on"}).status_code == 403
    assert not Repository.objects.get(name="team/app").public
