"""Signing in and out of the portal with Django auth, throttled like `docker login`."""
from __future__ import annotations

import pytest

from registry_api.auth.credentials import access_token_create

pytestmark = pytest.mark.django_db


def test_sign_in_and_come_back_to_the_page(client, people):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "reader", "password": "reader-pw", "next": "/repositories/team/app/"})
    assert response.status_code == 302 and response["Location"] == "/repositories/team/app/"
    assert "reader" in client.get("/").content.decode()


def test_a_private_page_sends_anonymous_visitors_to_sign_in(client, people):
    response = client.get("/repositories/team/app/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/repositories/team/app/"


def test_wrong_password_is_refused(client, people):
    response = client.post("/login/", {"username": "reader", "password": "nope"})
    assert response.status_code == 200 and "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_access_tokens_do_not_open_a_session(client, people):
    _, secret = access_token_create(user=people["root"], name="ci", read_only=True)
    response = client.post("/login/", {"username": "root", "password": secret})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_failed_sign_ins_are_throttled(client, settings, people):
    settings.REGISTRY_LOGIN_MAX_FAILURES = 2
    for attempt in range(2):
        client.post("/login/", {"username": "reader", "password": f"nope-{attempt}"})
    response = client.post("/login/", {"username": "reader", "password": "reader-pw"})
    assert response.status_code == 429 and 1 <= int(response["Retry-After"]) <= settings.REGISTRY_LOGIN_WINDOW
    assert f"Try again in {response['Retry-After']} s." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_password_that_looks_like_a_token_signs_in(client, people):
    people["reader"].set_password("drm_my-real-password")
    people["reader"].save()
    response = client.post("/login/", {"username": "reader", "password": "drm_my-real-password"})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(people["reader"].pk)


def test_sign_out(client, people):
    client.force_login(people["reader"])
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Sign in" in client.get("/").content.decode()
