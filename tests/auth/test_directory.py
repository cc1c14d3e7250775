"""Directory sign-in against a real OpenLDAP server (tests/slapd.py): users created and
updated from the directory, groups mirrored (so grants to groups apply), staff and
superuser groups, the required group, the short cache of a yes, the throttle in front of
the directory, the directory down, and filter metacharacters in user names."""
from __future__ import annotations

import time

import ldap
import pytest
from django.contrib.auth.models import Group, User

from registry_api.auth import backends
from registry_api.auth.directory import HOLD_OFF_SECONDS, DirectoryBackend, directory_hold_off_clear
from registry_api.models import Grant, LoginThrottle, Namespace
from tests import slapd

from .conftest import basic, get_token

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def directory():
    with slapd.running_slapd() as server:
        yield server


@pytest.fixture
def ldap_on(settings, directory):
    for name, value in directory.settings().items():
        setattr(settings, name, value)
    backends._directory_verified.clear()
    directory_hold_off_clear()
    yield directory
    backends._directory_verified.clear()
    directory_hold_off_clear()


@pytest.fixture
def binds(monkeypatch):
    """How many times the directory was asked about a password."""
    calls = []
    real = backends.directory_authenticate

    def counted(*args):
        calls.append(args[1])
        return real(*args)

    monkeypatch.setattr(backends, "directory_authenticate", counted)
    return calls


def token(client, username, password, *scopes, address="10.2.0.1", **params):
    return client.get("/auth/token", {"service": "docker-registry-manager", "scope": list(scopes), **params},
                      REMOTE_ADDR=address, **basic(username, password))


def test_a_directory_user_signs_in_and_is_created_from_its_entry(client, ldap_on):
    assert token(client, "alice", "alice-pw").status_code == 200
    alice = User.objects.get(username="alice")
    assert (alice.email, alice.first_name, alice.last_name) == ("alice@example.org", "Alice", "Example")
    assert not alice.has_usable_password()
    assert {g.name for g in alice.groups.all()} == {"developers", "registry-users"}
    assert token(client, "alice", "wrong").status_code == 401


def test_grants_to_a_directory_group_apply_and_go_with_the_membership(client, ldap_on, settings):
    settings.REGISTRY_LDAP_CACHE_SECONDS = 1
    team = Namespace.objects.create(name="team")
    Grant.objects.create(namespace=team, group=Group.objects.create(name="developers"), level="push")
    granted = get_token(client, "repository:team/app:pull,push", auth=basic("alice", "alice-pw"))
    assert "repository:team/app:pull,push" in granted["scope"]
    assert "push" not in get_token(client, "repository:team/app:pull,push", auth=basic("bob", "bob-pw"))["scope"]

    ldap_on.modify(slapd.group_dn("developers"), [(ldap.MOD_DELETE, "member", [slapd.user_dn("alice")])])
    try:
        time.sleep(1.1)  # the cached yes expires; the next sign-in asks the directory again
        assert get_token(client, "repository:team/app:pull,push", auth=basic("alice", "alice-pw"))["scope"] == ""
        assert "developers" not in {g.name for g in User.objects.get(username="alice").groups.all()}
    finally:
        ldap_on.modify(slapd.group_dn("developers"), [(ldap.MOD_ADD, "member", [slapd.user_dn("alice")])])


def test_staff_and_superuser_groups_follow_the_directory(client, ldap_on, settings):
    settings.REGISTRY_LDAP_STAFF_GROUP = slapd.group_dn("staff")
    settings.REGISTRY_LDAP_SUPERUSER_GROUP = slapd.group_dn("admins")
    settings.REGISTRY_LDAP_CACHE_SECONDS = 0
    response = client.post("/admin/login/?next=/admin/", {"username": "bob", "password": "bob-pw"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    bob = User.objects.get(username="bob")
    assert bob.is_staff and bob.is_superuser
    assert client.get("/admin/").status_code == 200
    assert token(client, "alice", "alice-pw").status_code == 200
    assert not User.objects.get(username="alice").is_staff

    ldap_on.modify(slapd.group_dn("admins"), [(ldap.MOD_DELETE, "member", [slapd.user_dn("bob")])])
    try:
        assert token(client, "bob", "bob-pw").status_code == 200
        bob.refresh_from_db()
        assert bob.is_staff and not bob.is_superuser
    finally:
        ldap_on.modify(slapd.group_dn("admins"), [(ldap.MOD_ADD, "member", [slapd.user_dn("bob")])])


def test_the_required_group_keeps_others_out(client, ldap_on, settings):
    settings.REGISTRY_LDAP_REQUIRE_GROUP = slapd.group_dn("registry-users")
    assert token(client, "carol", "carol-pw").status_code == 401
    assert not User.objects.filter(username="carol").exists()
    assert token(client, "alice", "alice-pw").status_code == 200


@pytest.mark.parametrize("group_type, group_filter, user, expected", [
    ("groupOfUniqueNames", "", "alice", {"unique-team"}),
    ("posixGroup", "", "alice", {"posix-team"}),
    # Active Directory's `member` lookups (what `memberOf` shows), groups within groups
    # followed: dave is in ops, which is in developers.
    ("nestedActiveDirectory", "(objectClass=groupOfNames)", "dave", {"ops", "developers", "registry-users"}),
    ("activeDirectory", "(objectClass=groupOfNames)", "dave", {"ops", "registry-users"}),
])
def test_each_group_type_is_mirrored(client, ldap_on, settings, group_type, group_filter, user, expected):
    settings.REGISTRY_LDAP_GROUP_TYPE, settings.REGISTRY_LDAP_GROUP_FILTER = group_type, group_filter
    assert token(client, user, f"{user}-pw").status_code == 200
    assert {g.name for g in User.objects.get(username=user).groups.all()} == expected


def test_a_user_disabled_in_the_directory_stops_after_the_cache_window(client, ldap_on, settings, binds):
    settings.REGISTRY_LDAP_CACHE_SECONDS = 1
    assert token(client, "dave", "dave-pw").status_code == 200
    ldap_on.modify(slapd.user_dn("dave"), [(ldap.MOD_REPLACE, "userPassword", ["changed-pw"])])
    try:
        for _ in range(3):  # within the window: no bind, still a yes
            assert client.get("/v2/", **basic("dave", "dave-pw")).status_code == 200
        assert len(binds) == 1
        time.sleep(1.1)
        assert token(client, "dave", "dave-pw").status_code == 401
        assert token(client, "dave", "changed-pw").status_code == 200
    finally:
        ldap_on.modify(slapd.user_dn("dave"), [(ldap.MOD_REPLACE, "userPassword", ["dave-pw"])])


def test_a_directory_password_buys_no_refresh_token(client, ldap_on):
    """docker keeps the password instead, so each token request is checked again."""
    response = token(client, "alice", "alice-pw", offline_token="true")
    assert response.status_code == 200 and "refresh_token" not in response.json()
    User.objects.create_user("local", password="local-pw")
    assert "refresh_token" in token(client, "local", "local-pw", offline_token="true").json()


def test_the_same_wrong_password_is_sent_to_the_directory_once(client, ldap_on, binds):
    for _ in range(3):
        assert token(client, "alice", "typo").status_code == 401
    assert binds == ["alice"]
    assert LoginThrottle.objects.get(key="bind:alice").failures == 1


def test_guessing_stops_before_the_directory_would_lock_the_account(client, ldap_on, settings, binds):
    settings.REGISTRY_LDAP_MAX_FAILED_BINDS = 3
    for n in range(3):  # from three addresses, so only the directory counter fills up
        assert token(client, "alice", f"guess-{n}", address=f"10.3.0.{n}").status_code == 401
    refused = token(client, "alice", "alice-pw", address="10.4.0.1")
    assert refused.status_code == 429 and refused.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert int(refused["Retry-After"]) > settings.REGISTRY_LOGIN_WINDOW  # the directory's own, longer window
    assert len(binds) == 3
    assert token(client, "bob", "bob-pw", address="10.4.0.1").status_code == 200


def test_a_right_password_resets_the_directory_counter_as_the_directory_does(client, ldap_on, settings):
    settings.REGISTRY_LDAP_MAX_FAILED_BINDS = 3
    for n in range(2):
        assert token(client, "alice", f"guess-{n}", address=f"10.5.0.{n}").status_code == 401
    assert token(client, "alice", "alice-pw", address="10.5.1.1").status_code == 200
    assert not LoginThrottle.objects.filter(key="bind:alice").exists()
    for n in range(2):
        assert token(client, "alice", f"again-{n}", address=f"10.5.2.{n}").status_code == 401
    assert LoginThrottle.objects.get(key="bind:alice").failures == 2


def test_the_directory_down_is_503_not_a_wrong_password(client, ldap_on, settings):
    User.objects.create_superuser("root", password="root-pw")
    assert token(client, "bob", "bob-pw").status_code == 200  # cached from here on
    ldap_on.stop()
    try:
        response = token(client, "alice", "alice-pw")
        assert response.status_code == 503
        error = response.json()["errors"][0]
        assert error["code"] == "UNAVAILABLE" and "directory unavailable" in error["message"]
        assert client.get("/v2/", **basic("alice", "alice-pw")).status_code == 503
        assert not LoginThrottle.objects.exists()  # not counted as a failed sign-in
        assert token(client, "root", "root-pw").status_code == 200  # local accounts keep working
        assert token(client, "bob", "bob-pw").status_code == 200  # and a yes given a moment ago
        page = client.post("/login/", {"username": "alice", "password": "alice-pw"})
        assert page.status_code == 503 and b"Directory unavailable" in page.content
        admin = client.post("/admin/login/", {"username": "alice", "password": "alice-pw"})
        assert admin.status_code == 503 and b"Directory unavailable" in admin.content
    finally:
        ldap_on.start()
    assert response["Retry-After"] == str(HOLD_OFF_SECONDS)
    assert token(client, "alice", "alice-pw").status_code == 503  # held off: not asked again yet
    directory_hold_off_clear()
    assert token(client, "alice", "alice-pw").status_code == 200


def test_after_a_failure_the_directory_is_left_alone_for_a_while(client, ldap_on, monkeypatch):
    """A bind blocks the whole gevent worker: a directory that does not answer must not
    stall it for REGISTRY_LDAP_TIMEOUT at every sign-in."""
    asked = []
    real = DirectoryBackend.authenticate
    monkeypatch.setattr(DirectoryBackend, "authenticate", lambda self, *a, **kw: asked.append(1) or real(self, *a, **kw))
    ldap_on.stop()
    try:
        for _ in range(3):
            assert token(client, "alice", "alice-pw").status_code == 503
    finally:
        ldap_on.start()
    assert len(asked) == 1


def test_a_local_account_is_never_taken_over_by_a_directory_entry(client, ldap_on, binds):
    User.objects.create_user("carol", password="local-carol-pw")
    assert token(client, "carol", "carol-pw").status_code == 401
    assert token(client, "carol", "local-carol-pw").status_code == 200
    assert token(client, "Carol", "carol-pw").status_code == 401  # django-auth-ldap matches names case-blind
    assert User.objects.get(username="carol").has_usable_password()
    assert binds == ["Carol"]


def test_a_robot_is_never_looked_up_in_the_directory(client, ldap_on, binds):
    from registry_api.services.robots import robot_create

    created = robot_create(username="carol")
    assert token(client, "carol", "carol-pw").status_code == 401
    assert token(client, "carol", created.secret).status_code == 200
    assert binds == []


@pytest.mark.parametrize("username", ["al*", "*", "alice)(uid=*", "*)(|(uid=*", "alice\\", "ali\x00ce", "(uid=alice)"])
def test_filter_metacharacters_in_user_names_are_escaped(client, ldap_on, username):
    """Injected into (uid=%(user)s), most would match alice's entry (and only hers), so her
    password would sign them in; escaped, they match nobody."""
    response = token(client, username, "alice-pw")
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert not User.objects.filter(email__endswith="@example.org").exists()


def test_an_unescaped_wildcard_would_have_matched(ldap_on):
    """The input above is a real threat: the raw filter finds alice."""
    conn = ldap_on.connection()
    try:
        found = conn.search_s(slapd.PEOPLE, ldap.SCOPE_SUBTREE, "(uid=al*)")
    finally:
        conn.unbind_s()
    assert [dn for dn, _ in found] == [slapd.user_dn("alice")]


@pytest.mark.parametrize("secure", [
    {"REGISTRY_LDAP_URI": "tls_uri"},
    {"REGISTRY_LDAP_START_TLS": True},
], ids=["ldaps", "starttls"])
def test_tls_to_the_directory_verifies_its_certificate(client, ldap_on, settings, secure):
    for name, value in secure.items():
        setattr(settings, name, getattr(ldap_on, value) if value == "tls_uri" else value)
    refused = token(client, "alice", "alice-pw")  # self-signed: the system's CAs do not know it
    assert refused.status_code == 503 and refused.json()["errors"][0]["code"] == "UNAVAILABLE"
    settings.REGISTRY_LDAP_CA_FILE = str(ldap_on.certificate)
    directory_hold_off_clear()
    assert token(client, "alice", "alice-pw").status_code == 200


def test_every_sign_in_path_takes_directory_passwords(client, ldap_on):
    posted = client.post("/auth/token", {"grant_type": "password", "username": "alice", "password": "alice-pw",
                                         "service": "docker-registry-manager", "access_type": "offline"})
    assert posted.status_code == 200 and "refresh_token" not in posted.json()
    assert client.get("/v2/", **basic("bob", "bob-pw")).status_code == 200
    assert client.post("/login/", {"username": "alice", "password": "alice-pw"}).status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("changes, setting", [
    ({"REGISTRY_LDAP_URI": "", "REGISTRY_LDAP_BIND_PASSWORD": "pw"}, "REGISTRY_LDAP_BIND_PASSWORD"),
    ({"REGISTRY_LDAP_BIND_DN": ""}, "REGISTRY_LDAP_BIND_DN"),  # names the half that is missing
    ({"REGISTRY_LDAP_USER_BASE": ""}, "REGISTRY_LDAP_USER_BASE"),
    ({"REGISTRY_LDAP_USER_FILTER": "(uid=alice)"}, "REGISTRY_LDAP_USER_FILTER"),
    ({"REGISTRY_LDAP_GROUP_TYPE": "memberOf"}, "REGISTRY_LDAP_GROUP_TYPE"),
    ({"REGISTRY_LDAP_GROUP_BASE": "", "REGISTRY_LDAP_STAFF_GROUP": "cn=staff"}, "REGISTRY_LDAP_STAFF_GROUP"),
    ({"REGISTRY_LDAP_URI": "ldaps://127.0.0.1", "REGISTRY_LDAP_START_TLS": True}, "REGISTRY_LDAP_START_TLS"),
    ({"REGISTRY_LDAP_URI": "http://127.0.0.1"}, "REGISTRY_LDAP_URI"),
    ({"REGISTRY_LDAP_CA_FILE": "/nonexistent/ca.pem"}, "REGISTRY_LDAP_CA_FILE"),
])
def test_incoherent_settings_stop_migrate_naming_the_setting(ldap_on, settings, changes, setting):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    for name, value in changes.items():
        setattr(settings, name, value)
    with pytest.raises(SystemCheckError, match=rf"{setting}: \(registry_api\.E008\)"):
        call_command("check")


def test_coherent_settings_pass_the_checks(ldap_on):
    from registry_api.apps import check_directory_settings

    assert check_directory_settings() == []


def test_a_directory_account_cannot_take_a_local_password_in_the_admin(client, ldap_on, settings):
    """It would leave the directory's hands: still signing in once disabled there."""
    settings.REGISTRY_LDAP_STAFF_GROUP = slapd.group_dn("staff")
    assert client.post("/admin/login/", {"username": "bob", "password": "bob-pw"}).status_code == 302
    response = client.post("/admin/password_change/", {
        "old_password": "bob-pw", "new_password1": "a-local-pw-1234", "new_password2": "a-local-pw-1234"})
    assert response.status_code == 200 and b"kept by the directory" in response.content
    assert not User.objects.get(username="bob").has_usable_password()
