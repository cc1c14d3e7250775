"""What the portal's scripts read for visitors who are not signed in: the dashboard's
figures and the tag list of a public repository. Anonymous callers see what is public and
nothing else (401 elsewhere, so a script that forgot its token is told to sign in); a
wrong credential is still 401, never an anonymous answer."""
from __future__ import annotations

import pytest

from registry_api.models import Namespace, Tag
from tests import builders

from .conftest import _push


@pytest.fixture
def public(world, client, settings):
    """`pub/app:1.0` and `pub/app:sig` (an artifact), in a public namespace."""
    Namespace.objects.create(name="pub", public=True)
    _push(client, settings, "pub/app", "1.0", builders.image("pub-app"))
    _push(client, settings, "pub/app", "sig", builders.image("pub-sig", artifact_type="application/example"))
    return world


def test_anonymous_figures_are_those_of_public_repositories(api, public):
    figures = api("GET", "/api/v1/summary/", "anonymous").json()
    assert figures["repositories"] == 1 and figures["tags"] == 2
    assert {push["repository"] for push in figures["recent"]} == {"pub/app"}
    assert [u["namespace"] for u in figures["storage_by_namespace"]] == ["pub"]
    staff = api("GET", "/api/v1/summary/", "staff").json()
    assert staff["repositories"] == 4 and staff["tags"] == Tag.objects.count()
    assert staff["version"] != figures["version"]


def test_puller_figures_leave_out_other_namespaces(api, public):
    figures = api("GET", "/api/v1/summary/", "puller").json()
    assert figures["repositories"] == 3  # team/app, team/tool and the public pub/app
    assert "other" not in {u["namespace"] for u in figures["storage_by_namespace"]}


def test_anonymous_callers_list_the_tags_of_a_public_repository(api, public):
    found = api("GET", "/api/v1/repositories/pub/app/-/tags/?q=1.&sort=-pushed", "anonymous")
    assert found.status_code == 200
    assert [(t["name"], t["artifact"]) for t in found.json()["results"]] == [("1.0", False)]
    every = {t["name"]: t["artifact"] for t in api("GET", "/api/v1/repositories/pub/app/-/tags/", "anonymous").json()["results"]}
    assert every == {"1.0": False, "sig": True}


@pytest.mark.parametrize("path", [
    "/api/v1/repositories/team/app/-/tags/",  # exists, private
    "/api/v1/repositories/team/nothing/-/tags/",  # does not exist: the same answer
    "/api/v1/repositories/pub/app/-/tags/v1/",  # one tag: not open to anonymous callers
    "/api/v1/repositories/pub/app/",
])
def test_anonymous_callers_are_asked_to_sign_in_elsewhere(api, public, path):
    response = api("GET", path, "anonymous")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_wrong_credential_is_refused_not_treated_as_anonymous(client, public):
    for path in ("/api/v1/summary/", "/api/v1/repositories/pub/app/-/tags/"):
        response = client.get(path, headers={"Authorization": "Bearer drm_wrong"})
        assert response.status_code == 401 and response.json()["code"] == "authentication_failed"


def test_anonymous_callers_still_may_not_write(api, public):
    response = api("DELETE", "/api/v1/repositories/pub/app/-/tags/1.0/", "anonymous")
    assert response.status_code == 401
    assert Tag.objects.filter(repository__name="pub/app", name="1.0").exists()


def test_bad_input_on_the_tag_list_is_a_clear_400(api, public):
    for query, field in (("sort=size", "sort"), ("page_size=1000000000", "page_size"), ("page=x", "page")):
        response = api("GET", f"/api/v1/repositories/pub/app/-/tags/?{query}", "anonymous")
        assert response.status_code == 400 and field in response.json()["fields"], query
    bad_name = api("GET", "/api/v1/repositories/pub/UPPER/-/tags/", "anonymous")  # outside the name grammar
    assert bad_name.status_code == 404 and bad_name.json()["code"] == "not_found"


def test_the_summary_takes_no_writes(api, public):
    response = api("PUT", "/api/v1/summary/", "staff", json={"tags": 0})
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
