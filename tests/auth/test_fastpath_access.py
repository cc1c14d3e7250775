"""Access control holds on the manifest fast path (registry_api/edge/fastpath.py): it answers
only callers the view would let pull, and leaves every refusal to the view's own answer."""
from __future__ import annotations

import logging

import pytest
from django.test import RequestFactory

from registry_project.wsgi import ApiHandler
from tests import builders
from tests.api.support import Registry
from tests.wsgi_call import call_application, fast_path_answer as read

from .conftest import basic, get_token

pytestmark = pytest.mark.django_db

PATH = "/v2/team/app/manifests/latest"


@pytest.fixture
def pushed(client, users, settings):
    settings.REGISTRY_AUTH_ENABLED = False
    image = builders.image("app")
    Registry(client).push_image("team/app", "latest", image)
    settings.REGISTRY_AUTH_ENABLED = True
    return image


def _environ(**headers) -> dict:
    return RequestFactory().head(PATH, HTTP_X_REQUEST_ID="access-1", **headers).environ


def _token(client, user: str, scope: str = "repository:team/app:pull") -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {get_token(client, scope, auth=basic(user, f'{user}-pw'))['token']}"}


def _answers(**headers) -> tuple[tuple, tuple]:
    return call_application(_environ(**headers)), call_application(_environ(**headers), ApiHandler())


def test_a_token_that_may_pull_is_answered_here_as_the_view_answers(client, pushed, caplog):
    auth = _token(client, "bob")
    with caplog.at_level(logging.INFO, logger="registry.request"):
        assert read(_environ(**auth)) is not None
    assert [r.user for r in caplog.records if r.name == "registry.request" and r.route == "manifest"] == ["bob"]
    fast, django = _answers(**auth)
    assert fast == django and fast[0] == "200 OK"
    assert fast[1]["Docker-Content-Digest"] == pushed.manifest.digest


@pytest.mark.parametrize("case, status", [
    ("other scope", "401 Unauthorized"),  # insufficient_scope: a new token would do
    ("no pull right", "403 Forbidden"),
    ("deactivated", "401 Unauthorized"),
    ("anonymous", "401 Unauthorized"),
    ("basic", "200 OK"),  # answered by the view, which throttles and audits passwords
])
def test_refusals_and_other_credentials_are_the_views(client, pushed, users, case, status):
    if case == "other scope":
        auth = _token(client, "alice", "repository:team/other:pull")
    elif case == "no pull right":
        auth = _token(client, "carol")  # carol has no grant on team: a token without the action
    elif case == "deactivated":
        auth = _token(client, "bob")
        users["bob"].is_active = False
        users["bob"].save()
    elif case == "anonymous":
        auth = {}
    else:
        auth = basic("bob", "bob-pw")
    assert read(_environ(**auth)) is None
    fast, django = _answers(**auth)
    assert fast == django
    assert fast[0] == status


def test_anonymous_pull_when_the_registry_allows_it(client, pushed, settings):
    settings.REGISTRY_ANONYMOUS_PULL = True
    assert read(_environ()) is not None
    fast, django = _answers()
    assert fast == django and fast[0] == "200 OK"
