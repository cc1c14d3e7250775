"""The Django admin's sign-in and password change, and any other authenticate() call, count
against the failed-login throttle of `docker login` and refuse with the 429 page.

Driven as a browser does it: the form is fetched first, and posted back with its CSRF token
(the cookie and the hidden field) to a client that enforces CSRF checks.
"""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory

from registry_api.auth.throttle import TooManyFailures
from registry_api.models import AuditEvent

from .conftest import basic

pytestmark = pytest.mark.django_db

GUESSER, OWNER = "10.6.6.6", "10.1.1.1"
LIMIT = 3


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.REGISTRY_LOGIN_MAX_FAILURES = LIMIT


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def _form_fields(response) -> dict[str, str]:
    """The hidden inputs of the page's form (the CSRF token, `next`), as a browser sends them."""
    assert response.status_code == 200
    html = response.content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    assert fields.get("csrfmiddlewaretoken"), html[:500]
    return fields


def admin_sign_in(browser: Client, username: str, password: str, address: str):
    page = browser.get("/admin/login/?next=/admin/", REMOTE_ADDR=address)
    form = {**_form_fields(page), "username": username, "password": password}
    return browser.post("/admin/login/?next=/admin/", form, REMOTE_ADDR=address)


def assert_refused(response) -> None:
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 301
    assert f"Too many failed sign-in attempts. Try again in {retry_after} s." in response.content.decode()


def test_the_real_form_is_csrf_checked(browser, users):
    response = browser.post("/admin/login/", {"username": "root", "password": "root-pw"}, REMOTE_ADDR=OWNER)
    assert response.status_code == 403
    assert admin_sign_in(browser, "root", "root-pw", OWNER).status_code == 302


def test_guessing_at_the_admin_sign_in_is_refused_even_with_the_right_password(browser, users):
    for attempt in range(LIMIT):
        response = admin_sign_in(browser, "root", f"guess-{attempt}", GUESSER)
        assert response.status_code == 200 and "correct username and password" in response.content.decode()
    assert_refused(admin_sign_in(browser, "root", "root-pw", GUESSER))
    assert "_auth_user_id" not in browser.session
    # Each wrong password is audited once, and the guesser locks nobody else out.
    assert AuditEvent.objects.filter(action="login_failed", actor="root").count() == LIMIT
    owner = Client(enforce_csrf_checks=True)
    assert admin_sign_in(owner, "root", "root-pw", OWNER).status_code == 302
    assert owner.session["_auth_user_id"] == str(users["root"].pk)


def test_the_admin_and_docker_login_share_the_counters(client, browser, users):
    for attempt in range(LIMIT - 1):
        assert client.get("/auth/token", REMOTE_ADDR=GUESSER, **basic("root", f"guess-{attempt}")).status_code == 401
    assert admin_sign_in(browser, "root", "one-more", GUESSER).status_code == 200
    token = client.get("/auth/token", REMOTE_ADDR=GUESSER, **basic("root", "root-pw"))
    assert token.status_code == 429 and token.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert_refused(admin_sign_in(browser, "root", "root-pw", GUESSER))


def change_password(browser: Client, old: str, new: str, address: str):
    page = browser.get("/admin/password_change/", REMOTE_ADDR=address)
    form = {**_form_fields(page), "old_password": old, "new_password1": new, "new_password2": new}
    return browser.post("/admin/password_change/", form, REMOTE_ADDR=address)


def test_the_admins_password_change_counts_wrong_current_passwords(browser, users):
    """Someone at an unattended, signed-in admin session cannot guess the password there."""
    browser.force_login(users["root"])
    for attempt in range(LIMIT):
        response = change_password(browser, f"guess-{attempt}", "a-new-password-1", GUESSER)
        assert response.status_code == 200 and "incorrectly" in response.content.decode()
    assert_refused(change_password(browser, "root-pw", "a-new-password-1", GUESSER))
    users["root"].refresh_from_db()
    assert users["root"].check_password("root-pw")


def test_the_admins_password_change_still_works(browser, users):
    browser.force_login(users["root"])
    response = change_password(browser, "root-pw", "a-new-password-1", OWNER)
    assert response.status_code == 302 and response["Location"] == "/admin/password_change/done/"
    users["root"].refresh_from_db()
    assert users["root"].check_password("a-new-password-1")


def test_any_authenticate_call_counts_and_is_refused(users):
    request = RequestFactory().post("/somewhere/", REMOTE_ADDR=GUESSER)
    for attempt in range(LIMIT):
        assert authenticate(request, username="alice", password=f"guess-{attempt}") is None
    with pytest.raises(TooManyFailures) as refused:
        authenticate(request, username="alice", password="alice-pw")
    assert refused.value.status == 429 and refused.value.retry_after >= 1
    elsewhere = RequestFactory().post("/somewhere/", REMOTE_ADDR=OWNER)
    assert authenticate(elsewhere, username="alice", password="alice-pw") == users["alice"]
