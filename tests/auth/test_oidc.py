"""OpenID Connect sign-in against a real provider over HTTP (tests/oidc_provider.py): the
authorization code flow with PKCE from the discovered configuration, users made at first
sign-in, groups mirrored, staff by group; and every bad way back is a clear page and no
session. The browser flow end to end is tests/e2e/test_oidc_browser.py."""
from __future__ import annotations

import urllib.parse

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from registry_api.models import Grant, Namespace
from tests.oidc_provider import CLIENT_ID, running_provider

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with running_provider(tmp_path_factory.mktemp("oidc")) as running:
        yield running


@pytest.fixture(autouse=True)
def _oidc_settings(settings, provider, users):
    for name, value in provider.settings_env(REGISTRY_OIDC_STAFF_GROUPS="registry-staff").items():
        setattr(settings, name, value)
    settings.REGISTRY_OIDC_STAFF_GROUPS = ["registry-staff"]


def start(client, then: str = "/tokens/") -> str:
    response = client.get("/oidc/login/", {"next": then})
    assert response.status_code == 302
    return response["Location"]


def come_back(client, callback_url: str):
    parts = urllib.parse.urlsplit(callback_url)
    return client.get(parts.path, dict(urllib.parse.parse_qsl(parts.query)))


def sign_in(client, provider, sub: str, then: str = "/tokens/"):
    return come_back(client, provider.approve(start(client, then), sub))


def text(response) -> str:
    """The page, lower-cased (the error page capitalises its sentence)."""
    return response.content.decode().lower()


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_flow_uses_pkce_and_the_discovered_endpoints(client, provider):
    location = start(client)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert location.startswith(f"{provider.issuer}/oauth2/authorize?")
    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["scope"] == "openid profile email" and query["state"] and query["nonce"]
    assert query["redirect_uri"] == "http://testserver/oidc/callback/"


def test_first_sign_in_makes_the_user_with_groups_and_staff(client, provider):
    provider.set_user("sub-dana", preferred_username="dana", email="dana@example.test",
                      groups=["/team-readers", "registry-staff"])
    response = sign_in(client, provider, "sub-dana")
    assert response.status_code == 302 and response["Location"] == "/tokens/"
    dana = User.objects.get(username="dana")
    assert int(client.session["_auth_user_id"]) == dana.pk
    assert not dana.has_usable_password() and dana.email == "dana@example.test"
    assert dana.is_staff and not dana.is_superuser
    assert sorted(dana.groups.values_list("name", flat=True)) == ["registry-staff", "team-readers"]
    # The existing grant to team-readers applies: the portal shows team's repositories to her.
    assert client.get("/tokens/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_groups_follow_the_provider_at_every_sign_in(client, provider):
    provider.set_user("sub-erin", preferred_username="erin", groups=["registry-staff", "old-group"])
    sign_in(client, provider, "sub-erin")
    client.logout()
    provider.set_user("sub-erin", preferred_username="erin", groups=["team-readers"])
    sign_in(client, provider, "sub-erin")
    erin = User.objects.get(username="erin")
    assert list(erin.groups.values_list("name", flat=True)) == ["team-readers"] and not erin.is_staff
    assert Grant.objects.filter(group=Group.objects.get(name="team-readers"), namespace__name="team").exists()


def test_sign_out_ends_the_session(client, provider):
    provider.set_user("sub-finn", preferred_username="finn")
    sign_in(client, provider, "sub-finn")
    assert signed_in(client)
    client.post("/logout/")
    assert not signed_in(client)
    assert client.get("/tokens/").status_code == 302


def test_a_wrong_state_is_a_clear_page_and_no_session(client, provider):
    provider.set_user("sub-gus", preferred_username="gus")
    callback = provider.approve(start(client), "sub-gus")
    forged = callback.replace("state=", "state=forged")
    response = come_back(client, forged)
    assert response.status_code == 400
    assert "this sign-in was not started here or was already used (state)" in text(response)
    assert not signed_in(client) and not User.objects.filter(username="gus").exists()


def test_a_callback_used_twice_is_refused(client, provider):
    provider.set_user("sub-hal", preferred_username="hal")
    callback = provider.approve(start(client), "sub-hal")
    assert come_back(client, callback).status_code == 302
    client.logout()
    response = come_back(client, callback)
    assert response.status_code == 400 and not signed_in(client)


def test_a_wrong_nonce_is_refused(client, provider):
    provider.set_user("sub-ida", preferred_username="ida")
    callback = provider.approve(start(client), "sub-ida")
    session = client.session
    key = next(k for k in session.keys() if k.startswith("_state_oidc_"))
    stored = session[key]
    stored["data"]["nonce"] = "not-the-nonce-sent"
    session[key] = stored
    session.save()
    response = come_back(client, callback)
    assert response.status_code == 400
    assert "the id token does not verify" in text(response) and "nonce" in text(response)
    assert not signed_in(client)


def test_a_code_the_provider_refuses_is_a_clear_page(client, provider):
    provider.set_user("sub-jo", preferred_username="jo")
    callback = provider.approve(start(client), "sub-jo")
    response = come_back(client, callback.replace("code=", "code=expired"))
    assert response.status_code == 400
    assert "the provider refused the sign-in (invalid_grant)" in text(response)
    assert not signed_in(client)


def test_when_users_are_not_created_only_existing_ones_sign_in(client, provider, settings):
    settings.REGISTRY_OIDC_CREATE_USERS = False
    provider.set_user("sub-kim", preferred_username="kim")
    response = sign_in(client, provider, "sub-kim")
    assert response.status_code == 403
    assert "there is no account kim here, and accounts are not created at sign-in" in text(response)
    assert not signed_in(client) and not User.objects.filter(username="kim").exists()
    kim = User.objects.create(username="kim")
    kim.set_unusable_password()
    kim.save()
    assert sign_in(client, provider, "sub-kim").status_code == 302 and signed_in(client)


def test_a_local_account_is_not_taken_over(client, provider):
    provider.set_user("sub-root", preferred_username="root", groups=["registry-staff"])
    response = sign_in(client, provider, "sub-root")
    assert response.status_code == 403 and "root is a local account here" in text(response)
    assert not signed_in(client)


def test_a_disabled_account_may_not_sign_in(client, provider):
    provider.set_user("sub-lee", preferred_username="lee")
    sign_in(client, provider, "sub-lee")
    client.logout()
    User.objects.filter(username="lee").update(is_active=False)
    assert sign_in(client, provider, "sub-lee").status_code == 403 and not signed_in(client)


def test_an_unreachable_provider_is_a_502_page(client, settings):
    settings.REGISTRY_OIDC_ISSUER = "http://127.0.0.1:9"  # nothing listens there
    response = client.get("/oidc/login/")
    assert response.status_code == 502 and "cannot be reached" in text(response)


def test_the_sign_in_pages_offer_the_provider(client, settings):
    for path in ("/login/", "/admin/login/"):
        assert "Sign in with Mock ID" in client.get(path).content.decode()
    settings.REGISTRY_OIDC_ISSUER = ""
    assert "Sign in with" not in client.get("/login/").content.decode().replace("Sign in</button>", "")
    assert client.get("/oidc/login/").status_code == 404
    assert client.get("/oidc/callback/").status_code == 404


@pytest.mark.parametrize(("changes", "named"), [
    ({"REGISTRY_OIDC_CLIENT_ID": ""}, "REGISTRY_OIDC_ISSUER is set but REGISTRY_OIDC_CLIENT_ID is not"),
    ({"REGISTRY_OIDC_ISSUER": ""}, "REGISTRY_OIDC_CLIENT_ID is set but REGISTRY_OIDC_ISSUER is not"),
    ({"REGISTRY_OIDC_ISSUER": "keycloak.example"}, "REGISTRY_OIDC_ISSUER 'keycloak.example' is not an http(s) URL"),
    ({"REGISTRY_OIDC_SCOPES": "profile"}, "REGISTRY_OIDC_SCOPES must include openid"),
    ({"REGISTRY_OIDC_GROUPS_CLAIM": ""}, "need REGISTRY_OIDC_GROUPS_CLAIM"),
])
def test_incoherent_settings_stop_the_checks(settings, changes, named):
    for name, value in changes.items():
        setattr(settings, name, value)
    with pytest.raises(SystemCheckError, match=named.replace("(", r"\(").replace(")", r"\)")):
        call_command("check")


def test_a_user_name_that_is_not_valid_here_is_refused(client, provider):
    provider.set_user("sub-odd", preferred_username="odd name (x)")
    response = sign_in(client, provider, "sub-odd")
    assert response.status_code == 403 and "is not a valid user name here" in text(response)
    assert not signed_in(client) and not User.objects.filter(username="odd name (x)").exists()


def test_a_sign_in_that_changes_nothing_audits_nothing(client, provider):
    from registry_api.models import AuditEvent

    provider.set_user("sub-pat", preferred_username="pat", groups=["team-readers"])
    sign_in(client, provider, "sub-pat")
    client.logout()
    changes = AuditEvent.objects.filter(action="permission").count()
    sign_in(client, provider, "sub-pat")
    assert signed_in(client) and AuditEvent.objects.filter(action="permission").count() == changes
