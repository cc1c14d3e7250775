"""Deleting a namespace in the admin goes through services/namespaces.py, as the management
API does: the confirmation page names the repositories that keep it, and only an empty one
goes, with its grants."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages

from registry_api.models import AuditEvent, Grant, Namespace, Repository
from registry_api.services import namespaces

CHANGELIST = "/admin/registry_api/namespace/"


@pytest.fixture
def team(root_client):
    team = Namespace.objects.create(name="team")
    Repository.objects.create(name="team/app")
    Repository.objects.create(name="team/tool")
    Repository.objects.create(name="teamwork/app")  # another namespace, though it starts alike
    return team


def _delete_page(team: Namespace) -> str:
    return f"{CHANGELIST}{team.pk}/delete/"


def test_the_confirmation_page_names_what_keeps_it(root_client, team):
    page = root_client.get(_delete_page(team)).content.decode()
    assert "Cannot delete" in page
    assert "Repository team/app (delete it first)" in page and "team/tool" in page and "teamwork" not in page
    kept = root_client.post(_delete_page(team), {"post": "yes"})
    assert kept.status_code == 200 and Namespace.objects.filter(name="team").exists()


def test_the_bulk_action_keeps_it_too(root_client, team):
    empty = Namespace.objects.create(name="empty")
    page = root_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [team.pk, empty.pk],
                                         "post": "yes"})
    assert page.status_code == 200 and "team/app" in page.content.decode()
    assert Namespace.objects.filter(name__in=["team", "empty"]).count() == 2


def test_an_empty_namespace_goes_with_its_grants_and_is_audited(root_client, team):
    Repository.objects.filter(name__startswith="team/").delete()
    grant = Grant.objects.create(namespace=team, user=User.objects.get(username="root-hk"), level="pull")
    gone = root_client.post(_delete_page(team), {"post": "yes"}, follow=True)
    assert gone.status_code == 200 and not Namespace.objects.filter(name="team").exists()
    assert not Grant.objects.filter(pk=grant.pk).exists()
    assert AuditEvent.objects.filter(target="Namespace team", detail__change="deleted").exists()


def test_a_push_after_the_confirmation_page_keeps_it_with_a_clear_message(root_client, team, monkeypatch):
    """The page was empty when shown; a repository arrived before the click. The service,
    not the page, decides: an error message and no "deleted successfully"."""
    monkeypatch.setattr("registry_api.admin.namespace_repositories", lambda namespace: Repository.objects.none())
    answer = root_client.post(_delete_page(team), {"post": "yes"})
    assert answer.status_code == 302 and answer["Location"].endswith(f"/{team.pk}/change/")
    shown = [(m.level_tag, str(m)) for m in get_messages(answer.wsgi_request)]
    assert shown == [("error", "namespace team still holds 2 repositories; delete them first")]
    assert Namespace.objects.filter(name="team").exists()
    assert namespaces.namespace_repositories(namespace=team).count() == 2
