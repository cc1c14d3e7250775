"""The portal's access tokens page: each person creates, lists and revokes their own;
another's token does not exist for them; bad input gets a clear 400."""
from __future__ import annotations

import pytest

from registry_api.auth.credentials import TOKEN_PREFIX
from registry_api.models import AccessToken

pytestmark = pytest.mark.django_db


def create(client, **fields):
    return client.post("/tokens/", {"name": "laptop", "expires_in": "30", "namespace": "", **fields})


def secret_in(response) -> str:
    page = response.content.decode()
    start = page.index('id="token-secret">') + len('id="token-secret">')
    secret = page[start:page.index("<", start)]
    assert secret.startswith(TOKEN_PREFIX)
    return secret


def test_signed_out_visitors_are_sent_to_sign_in(client, people):
    response = client.get("/tokens/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.post("/tokens/1/revoke/").status_code == 302


def test_a_token_is_shown_once_with_its_login_command(as_person):
    client = as_person("reader")
    response = create(client, name="ci", read_only="on", expires_in="90")
    assert response.status_code == 200
    secret = secret_in(response)
    page = response.content.decode()
    assert "docker login testserver -u reader --password-stdin" in page
    token = AccessToken.objects.get(user__username="reader")
    assert token.name == "ci" and token.read_only and token.expires_at is not None and token.namespace is None
    listed = client.get("/tokens/").content.decode()
    assert "ci" in listed and token.prefix in listed and secret not in listed


def test_the_list_shows_only_ones_own_tokens_and_their_last_use(as_person, client, people):
    create(as_person("pusher"), name="pusher-token")
    create(as_person("reader"), name="reader-token", expires_in="")
    page = client.get("/tokens/").content.decode()
    assert "reader-token" in page and "pusher-token" not in page
    assert AccessToken.objects.get(name="reader-token").expires_at is None
    secret = secret_in(create(client, name="used"))
    client.logout()
    from tests.auth.conftest import basic
    assert client.get("/v2/", **basic("reader", secret)).status_code == 200
    client.force_login(people["reader"])
    row = client.get("/tokens/").content.decode().split(f'data-token="{AccessToken.objects.get(name="used").pk}"')[1]
    assert "<time" in row.split("</tr>")[0].split('data-label="Last used"')[1]


def test_revoking_stops_the_token(as_person, client):
    from tests.auth.conftest import basic
    secret = secret_in(create(as_person("pusher"), name="old"))
    token = AccessToken.objects.get(name="old")
    response = client.post(f"/tokens/{token.pk}/revoke/", follow=True)
    assert response.status_code == 200 and "Token old revoked." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked
    client.logout()
    assert client.get("/v2/", **basic("pusher", secret)).status_code == 401


def test_nobody_sees_or_revokes_anothers_token(as_person, people):
    create(as_person("pusher"), name="mine")
    token = AccessToken.objects.get(name="mine")
    for person in ("reader", "owner", "root"):  # superusers use the admin for others' tokens
        client = as_person(person)
        assert "mine" not in client.get("/tokens/").content.decode()
        assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert as_person("reader").post("/tokens/999999/revoke/").status_code == 404
    token.refresh_from_db()
    assert not token.revoked


def test_revoking_needs_a_post(as_person):
    create(as_person("reader"), name="t")
    assert as_person("reader").get(f"/tokens/{AccessToken.objects.get().pk}/revoke/").status_code == 405


@pytest.mark.parametrize(("fields", "error"), [
    ({"name": ""}, "Name: This field is required."),
    ({"name": "   "}, "Name: This field is required."),
    ({"name": "x" * 101}, "Name: Ensure this value has at most 100 characters"),
    ({"expires_in": "7"}, "Expires in: Select a valid choice."),
    ({"namespace": "nowhere"}, "no namespace is called nowhere"),
])
def test_bad_input_gets_a_clear_400(as_person, fields, error):
    response = create(as_person("reader"), **fields)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not AccessToken.objects.exists()


def test_the_page_links_from_the_navigation(as_person):
    assert 'href="/tokens/"' in as_person("reader").get("/").content.decode()
