"""Every portal page and action, for each kind of visitor.

A repository the visitor may not pull does not exist for them (404 signed in; sent to sign
in when anonymous); deleting tags and manifests needs the "delete" action, deleting the
whole repository the admin level (403 otherwise), each with CSRF and a POST.
"""
from __future__ import annotations

import pytest
from django.test import Client

from registry_api.models import Manifest, Repository, Tag

from .conftest import PEOPLE, Content

pytestmark = pytest.mark.django_db

OK, LOGIN, FORBIDDEN, MISSING = 200, "login", 403, 404
# Expected answer per visitor: anonymous, reader, pusher, deleter, owner, root.
READ_TEAM = (LOGIN, OK, OK, OK, OK, OK)
READ_SECRET = (LOGIN, MISSING, MISSING, MISSING, MISSING, OK)
READ_PUBLIC = (OK, OK, OK, OK, OK, OK)
DELETE_TEAM = (LOGIN, FORBIDDEN, FORBIDDEN, OK, OK, OK)
DELETE_SECRET = (LOGIN, MISSING, MISSING, MISSING, MISSING, OK)
DELETE_PUBLIC = (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
MANAGE_TEAM = (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK)


def _outcome(response) -> int | str:
    if response.status_code == 302 and response["Location"].startswith("/login/?next="):
        return LOGIN
    return response.status_code


def _pages(content: Content) -> list[tuple[str, tuple]]:
    v1 = content.v1.manifest.digest
    pages = [("/", READ_PUBLIC), ("/api/v1/summary/", READ_PUBLIC), ("/repositories/", READ_PUBLIC)]
    for name, tag, digest, read, delete, manage in (
        ("team/app", "v1", v1, READ_TEAM, DELETE_TEAM, MANAGE_TEAM),
        ("secret/box", "1", content.secret.manifest.digest, READ_SECRET, DELETE_SECRET, DELETE_SECRET),
        ("pub/tool", "1", content.tool.manifest.digest, READ_PUBLIC, DELETE_PUBLIC, DELETE_PUBLIC),
    ):
        pages += [
            (f"/repositories/{name}/", read),
            (f"/repositories/{name}/manifests/{digest}/", read),
            (f"/repositories/{name}/-/compare/?a={tag}&b={tag}", read),
            (f"/repositories/{name}/?q={tag}&untagged=2", read),
            (f"/repositories/{name}/-/tags/{tag}/delete/", delete),
            (f"/repositories/{name}/manifests/{digest}/delete/", delete),
            (f"/repositories/{name}/-/delete/", manage),
            (f"/repositories/{name}/-/settings/", manage),
        ]
    return pages


def test_every_page_for_every_visitor(as_person, content: Content):
    failures = []
    for index, person in enumerate(PEOPLE):
        client = as_person(person)
        for path, expected in _pages(content):
            got = _outcome(client.get(path))
            if got != expected[index]:
                failures.append(f"{person} GET {path}: {got}, expected {expected[index]}")
    assert not failures, "\n".join(failures)


def test_a_missing_repository_looks_like_a_forbidden_one(as_person, content: Content):
    client = as_person("reader")
    assert client.get("/repositories/secret/nothing/").status_code == 404
    assert client.get("/repositories/secret/box/").status_code == 404
    anonymous = as_person("anonymous")
    assert _outcome(anonymous.get("/repositories/secret/nothing/")) == LOGIN


def _delete_actions(content: Content):
    """(path, form data, what must be gone afterwards) on team/app."""
    digest = content.v2.manifest.digest
    return [
        ("/repositories/team/app/-/tags/v1/delete/", {}, lambda: Tag.objects.filter(repository__name="team/app", name="v1")),
        (f"/repositories/team/app/manifests/{digest}/delete/", {}, lambda: Manifest.objects.filter(digest=digest)),
        ("/repositories/team/app/-/delete/", {"confirm_name": "team/app"}, lambda: Repository.objects.filter(name="team/app")),
    ]


@pytest.mark.parametrize("person", ["anonymous", "reader", "pusher"])
def test_deletes_are_refused_without_the_delete_right(as_person, content: Content, person):
    client = as_person(person)
    for path, data, remaining in _delete_actions(content):
        assert _outcome(client.post(path, data)) == (LOGIN if person == "anonymous" else FORBIDDEN), path
        assert remaining().exists(), path


def test_deleting_the_whole_repository_needs_the_admin_level(as_person, content: Content):
    client = as_person("deleter")
    path, data, remaining = _delete_actions(content)[-1]
    assert client.post(path, data).status_code == FORBIDDEN and remaining().exists()


@pytest.mark.parametrize("person", ["owner", "root"])
def test_deletes_with_the_delete_right(as_person, content: Content, person):
    client = as_person(person)
    for path, data, remaining in _delete_actions(content):
        response = client.post(path, data, follow=True)
        assert response.status_code == 200, path
        assert not remaining().exists(), path
    assert "Deleted repository team/app (0 tags, 1 manifest)." in response.content.decode()
    assert response.redirect_chain[-1][0] == "/repositories/"


def test_tag_delete_keeps_the_manifest_and_says_so(as_person, content: Content):
    response = as_person("deleter").post("/repositories/team/app/-/tags/v1/delete/", follow=True)
    assert "Deleted tag v1." in response.content.decode()
    assert Manifest.objects.filter(digest=content.v1.manifest.digest, repository__name="team/app").exists()


def test_manifest_delete_takes_its_tags(as_person, content: Content):
    digest = content.v1.manifest.digest
    confirm = as_person("deleter").get(f"/repositories/team/app/manifests/{digest}/delete/").content.decode()
    assert "the tag <strong>v1</strong>" in confirm
    as_person("deleter").post(f"/repositories/team/app/manifests/{digest}/delete/")
    assert not Tag.objects.filter(repository__name="team/app", name="v1").exists()
    assert Manifest.objects.filter(digest=digest, repository__name="team/copy").exists()


def test_repository_delete_needs_the_name_typed(as_person, content: Content):
    response = as_person("owner").post("/repositories/team/app/-/delete/", {"confirm_name": "team/ap"})
    assert response.status_code == 200 and "Type the repository" in response.content.decode()
    assert Repository.objects.filter(name="team/app").exists()


def test_deleting_an_unknown_tag_is_404(as_person, content: Content):
    client = as_person("deleter")
    response = client.get("/repositories/team/app/-/tags/nope/delete/")
    assert response.status_code == 404


def test_deletes_need_a_csrf_token(people, content: Content):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["deleter"])
    assert client.post("/repositories/team/app/-/tags/v1/delete/").status_code == 403
    token = client.get("/repositories/team/app/-/tags/v1/delete/").context["csrf_token"]
    assert client.post("/repositories/team/app/-/tags/v1/delete/", {"csrfmiddlewaretoken": str(token)}).status_code == 302
    assert not Tag.objects.filter(repository__name="team/app", name="v1").exists()


def test_delete_buttons_only_for_those_who_may(as_person, content: Content):
    for person, tags, whole in (("reader", False, False), ("pusher", False, False), ("deleter", True, False),
                                ("owner", True, True), ("root", True, True)):
        page = as_person(person).get("/repositories/team/app/").content.decode()
        assert ("Delete tag" in page) is tags, person
        assert ("Delete repository" in page) is whole, person
        assert ("Settings and permissions" in page) is whole, person


def test_deletes_follow_registry_delete_enabled(as_person, settings, content: Content):
    settings.REGISTRY_DELETE_ENABLED = False
    client = as_person("root")
    assert "Delete tag" not in client.get("/repositories/team/app/").content.decode()
    assert client.post("/repositories/team/app/-/tags/v1/delete/").status_code == 403
    assert Tag.objects.filter(repository__name="team/app", name="v1").exists()


def test_anonymous_pull_setting_opens_every_page_but_not_deletes(client, settings, content: Content):
    settings.REGISTRY_ANONYMOUS_PULL = True
    assert client.get("/repositories/secret/box/").status_code == 200
    assert client.post("/repositories/secret/box/-/tags/1/delete/").status_code == 403


def test_admin_link_for_staff_only(as_person, content: Content):
    assert 'href="/admin/"' not in as_person("deleter").get("/").content.decode()
    assert 'href="/admin/"' in as_person("root").get("/").content.decode()


@pytest.mark.parametrize("person, allowed", [("deleter", False), ("root", True)])
def test_only_a_repository_admin_deletes_an_immutable_tag_or_repository(as_person, content: Content, person, allowed):
    Repository.objects.filter(name="team/app").update(immutable_tags=True)
    client = as_person(person)
    page = client.post("/repositories/team/app/-/tags/v1/delete/", follow=True).content.decode()
    assert Tag.objects.filter(repository__name="team/app", name="v1").exists() is not allowed
    assert ("Deleted tag v1." in page) is allowed
    assert allowed or "Could not delete tag v1: tags are immutable in repository team/app" in page
    client.post("/repositories/team/app/-/delete/", {"confirm_name": "team/app"})
    assert Repository.objects.filter(name="team/app").exists() is not allowed
def test_deleting_an_image_an_index_lists_warns_and_needs_the_box_ticked(as_person, content: Content):
    digest = content.arm64.manifest.digest
    client = as_person("deleter")
    confirm = client.get(f"/repositories/team/multi/manifests/{digest}/delete/").content.decode()
    warning = confirm.split('id="dependents"', 1)[1].split("</div>\n  </div>", 1)[0]
    assert "1 multi-platform index in this repository lists it" in warning
    assert f'href="/repositories/team/multi/manifests/{content.index.digest}/"' in warning
    assert "for <strong>linux/arm64</strong>, tagged <strong>latest</strong>" in warning
    assert 'type="checkbox" id="confirm-dependents" name="confirm_dependents" value="yes" required' in warning
    refused = client.post(f"/repositories/team/multi/manifests/{digest}/delete/", follow=True)
    assert "other manifests depend on it; tick the box to confirm" in refused.content.decode()
    assert Manifest.objects.filter(digest=digest, repository__name="team/multi").exists()
    client.post(f"/repositories/team/multi/manifests/{digest}/delete/", {"confirm_dependents": "yes"})
    assert not Manifest.objects.filter(digest=digest, repository__name="team/multi").exists()


def test_a_manifest_nothing_depends_on_has_no_warning(as_person, content: Content):
    page = as_person("deleter").get(f"/repositories/team/app/manifests/{content.v1.manifest.digest}/delete/")
    assert 'id="dependents"' not in page.content.decode()
