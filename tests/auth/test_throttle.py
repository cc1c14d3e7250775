"""Failed-login throttling: nobody can lock an account out from elsewhere, tokens are never
held back, retries of one wrong password count once, and old counters go away."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registry_api.auth.credentials import access_token_create
from registry_api.auth.throttle import _address_key
from registry_api.models import LoginThrottle

from .conftest import basic

pytestmark = pytest.mark.django_db

ATTACKER, OWNER = "10.6.6.6", "10.1.1.1"


def token_endpoint(client, username: str, password: str, address: str = OWNER):
    return client.get("/auth/token", REMOTE_ADDR=address, **basic(username, password))


def fail(client, username: str, times: int, address: str = ATTACKER) -> None:
    for attempt in range(times):
        assert token_endpoint(client, username, f"guess-{attempt}", address).status_code == 401


def test_guessing_from_one_address_does_not_lock_the_account_out_elsewhere(client, users, settings):
    fail(client, "root", settings.REGISTRY_LOGIN_MAX_FAILURES)
    assert token_endpoint(client, "root", "root-pw", ATTACKER).status_code == 429
    assert token_endpoint(client, "root", "root-pw", OWNER).status_code == 200


def test_a_valid_access_token_is_never_throttled(client, users, settings):
    settings.REGISTRY_LOGIN_MAX_FAILURES_PER_USER = 3
    _, secret = access_token_create(user=users["alice"], name="ci")
    fail(client, "alice", 3, OWNER)  # every counter of alice at OWNER is full
    assert token_endpoint(client, "alice", "alice-pw").status_code == 429
    assert token_endpoint(client, "alice", secret).status_code == 200
    assert client.get("/v2/team/app/tags/list", REMOTE_ADDR=OWNER, **basic("alice", secret)).status_code == 404


def test_guessing_one_account_from_many_addresses_only_slows_its_password(client, users, settings):
    settings.REGISTRY_LOGIN_MAX_FAILURES_PER_USER = 4
    _, secret = access_token_create(user=users["alice"], name="ci")
    for n in range(4):
        fail(client, "alice", 1, f"10.7.0.{n}")
    response = token_endpoint(client, "alice", "alice-pw", "10.8.8.8")
    assert response.status_code == 429 and response.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert token_endpoint(client, "alice", secret, "10.8.8.8").status_code == 200
    assert token_endpoint(client, "bob", "bob-pw", "10.8.8.8").status_code == 200


def test_containerd_sending_each_wrong_password_twice_is_not_locked_after_five_tries(client, users):
    for attempt in range(5):
        wrong = f"typo-{attempt}"
        form = {"grant_type": "password", "username": "alice", "password": wrong, "client_id": "containerd"}
        assert client.post("/auth/token", form, REMOTE_ADDR=OWNER).status_code == 401
        assert token_endpoint(client, "alice", wrong).status_code == 401  # ctr's GET fallback
    assert token_endpoint(client, "alice", "alice-pw").status_code == 200


def test_the_same_wrong_password_counts_again_after_a_pause(client, users, settings):
    settings.REGISTRY_LOGIN_MAX_FAILURES = 2
    assert token_endpoint(client, "alice", "same").status_code == 401
    assert token_endpoint(client, "alice", "same").status_code == 401
    assert token_endpoint(client, "alice", "alice-pw").status_code == 200  # one failure so far
    assert token_endpoint(client, "alice", "same").status_code == 401
    LoginThrottle.objects.filter(key__startswith="pair:").update(
        last_failed_at=timezone.now() - timedelta(seconds=11)
    )
    assert token_endpoint(client, "alice", "same").status_code == 401
    assert token_endpoint(client, "alice", "alice-pw").status_code == 429


def test_a_right_password_forgives_that_clients_own_failures(client, users, settings):
    settings.REGISTRY_LOGIN_MAX_FAILURES = 3
    fail(client, "alice", 2, OWNER)
    assert token_endpoint(client, "alice", "alice-pw").status_code == 200
    fail(client, "alice", 2, OWNER)
    assert token_endpoint(client, "alice", "alice-pw").status_code == 200


def test_429_on_v2_basic_and_on_the_post_form(client, users, settings):
    settings.REGISTRY_LOGIN_MAX_FAILURES = 2
    fail(client, "alice", 2, OWNER)
    on_v2 = client.get("/v2/team/app/tags/list", REMOTE_ADDR=OWNER, **basic("alice", "alice-pw"))
    assert on_v2.status_code == 429 and on_v2.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert on_v2["Retry-After"]
    form = {"grant_type": "password", "username": "alice", "password": "alice-pw", "client_id": "x"}
    on_post = client.post("/auth/token", form, REMOTE_ADDR=OWNER)
    assert on_post.status_code == 429 and on_post.json()["errors"][0]["code"] == "TOOMANYREQUESTS"


def test_expired_counters_are_purged_when_a_failure_is_recorded(client, users, settings):
    old = timezone.now() - timedelta(seconds=settings.REGISTRY_LOGIN_WINDOW + 1)
    LoginThrottle.objects.create(key="addr:192.0.2.1", failures=3, window_started_at=old)
    fail(client, "alice", 1)
    assert not LoginThrottle.objects.filter(key="addr:192.0.2.1").exists()
    assert set(LoginThrottle.objects.values_list("key", flat=True)) == {
        f"pair:{ATTACKER} alice", f"addr:{ATTACKER}", "user:alice",
    }


def test_a_full_counter_whose_window_is_over_no_longer_refuses(client, users, settings):
    """Counters are purged only when a failure is recorded: until then a full one from an
    earlier window is still stored, and must not count."""
    old = timezone.now() - timedelta(seconds=settings.REGISTRY_LOGIN_WINDOW + 1)
    LoginThrottle.objects.create(key=f"pair:{OWNER} alice", failures=99, window_started_at=old)
    LoginThrottle.objects.create(key="user:alice", failures=999, window_started_at=old)
    assert token_endpoint(client, "alice", "alice-pw").status_code == 200
    LoginThrottle.objects.filter(key="user:alice").update(window_started_at=timezone.now())
    assert token_endpoint(client, "alice", "alice-pw").status_code == 429


def test_a_real_password_with_the_token_prefix_works(client, users):
    users["alice"].set_password("drm_not-really-a-token")
    users["alice"].save()
    assert token_endpoint(client, "alice", "drm_not-really-a-token").status_code == 200
    assert client.get("/v2/team/app/tags/list", **basic("alice", "drm_not-really-a-token")).status_code == 404


@pytest.mark.parametrize("address, key", [
    ("192.0.2.7", "192.0.2.7"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
    ("not-an-address", "not-an-address"),
])
def test_ipv6_clients_are_counted_per_64(address, key):
    assert _address_key(address) == key


def test_a_right_password_writes_nothing_when_nothing_failed(client, users):
    assert client.get("/v2/team/app/tags/list", **basic("alice", "alice-pw")).status_code == 404
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/v2/team/app/tags/list", **basic("alice", "alice-pw")).status_code == 404
    assert not [q["sql"] for q in queries if "loginthrottle" in q["sql"] and not q["sql"].startswith("SELECT")]
