"""Directory sign-in as users meet it: gunicorn with REGISTRY_LDAP_* pointing at a private
slapd (tests/slapd.py), the docker CLI logging in, pushing and pulling as a directory user
whose directory group has a grant, that user losing access once the directory disables
them, and the directory going down while the local admin carries on."""
from __future__ import annotations

import base64
import re
import subprocess
import time

import ldap
import pytest

from registry_api.auth.directory import HOLD_OFF_SECONDS
from tests import builders, slapd

from .conftest import _running_registry

pytestmark = pytest.mark.e2e

CACHE_SECONDS = 2


@pytest.fixture(scope="module")
def directory():
    with slapd.running_slapd() as server:
        yield server


@pytest.fixture(scope="module")
def registry(tmp_path_factory, directory):
    """Access control on, the directory on, group `developers` may push to `team`."""
    env = {name: str(value) for name, value in directory.settings(
        REGISTRY_LDAP_REQUIRE_GROUP=slapd.group_dn("registry-users"),
        REGISTRY_LDAP_CACHE_SECONDS=CACHE_SECONDS,
    ).items()}
    with _running_registry(tmp_path_factory.mktemp("directory"), auth=True, **env) as server:
        server.manage("shell", "-c", (
            "from django.contrib.auth.models import Group\n"
            "from registry_api.models import Grant, Namespace\n"
            "Grant.objects.create(namespace=Namespace.objects.create(name='team'), "
            "group=Group.objects.get_or_create(name='developers')[0], level='push')\n"
        ))
        yield server


@pytest.fixture(autouse=True)
def _no_traceback(registry):
    start = registry.log.size()
    yield
    assert "Traceback" not in registry.log.read(start)


def token(registry, user: str, password: str, scope: str = "repository:team/app:pull,push"):
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return registry.request("GET", f"/auth/token?service=docker-registry-manager&scope={scope}",
                            headers={"Authorization": f"Basic {auth}"})


def docker(dockerd, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], input=stdin, env=dockerd.env, capture_output=True, text=True, timeout=120)


def test_docker_login_push_and_pull_as_a_directory_user(dockerd, registry, tmp_path):
    login = docker(dockerd, "login", registry.host, "-u", "alice", "--password-stdin", stdin="alice-pw")
    assert login.returncode == 0 and "Login Succeeded" in login.stdout, login.stderr
    img = builders.image("directory-app", layer_count=2, docker=True)
    archive = builders.docker_archive(tmp_path / "image.tar", img, ["e2e/directory-app:latest"])
    dockerd("load", "-i", archive)
    ref = f"{registry.host}/team/app:v1"
    dockerd("tag", "e2e/directory-app:latest", ref)
    pushed = re.search(r"digest: (sha256:[0-9a-f]{64})", dockerd("push", ref))
    assert pushed, "push printed no digest"
    dockerd("image", "rm", ref, "e2e/directory-app:latest")
    assert f"Digest: {pushed.group(1)}" in dockerd("pull", ref)
    assert dockerd.inspect(ref)["Id"] == img.config.digest

    # bob is in the directory but not in `developers`: signed in, no push to team.
    assert docker(dockerd, "login", registry.host, "-u", "bob", "--password-stdin", stdin="bob-pw").returncode == 0
    dockerd("tag", ref, f"{registry.host}/team/app:bob")
    denied = docker(dockerd, "push", f"{registry.host}/team/app:bob")
    assert denied.returncode != 0 and "denied" in denied.stderr.lower(), denied.stderr


def test_a_user_disabled_in_the_directory_stops_after_the_cache_window(registry, directory):
    assert token(registry, "dave", "dave-pw").status == 200
    directory.modify(slapd.group_dn("registry-users"), [(ldap.MOD_DELETE, "member", [slapd.user_dn("dave")])])
    try:
        time.sleep(CACHE_SECONDS + 0.5)
        refused = token(registry, "dave", "dave-pw")
        assert refused.status == 401 and refused.json()["errors"][0]["code"] == "UNAUTHORIZED"
    finally:
        directory.modify(slapd.group_dn("registry-users"), [(ldap.MOD_ADD, "member", [slapd.user_dn("dave")])])


def test_the_directory_down_is_503_while_the_local_admin_works(registry, directory):
    directory.stop()
    try:
        start = registry.log.size()
        down = token(registry, "carol-unknown", "whatever")
        assert down.status == 503
        error = down.json()["errors"][0]
        assert (error["code"], error["message"]) == ("UNAVAILABLE", "directory unavailable; try again later")
        assert "directory unavailable" in registry.log.read(start)
        admin_user, admin_password = registry.credentials
        assert token(registry, admin_user, admin_password).status == 200
        assert registry.request("GET", "/v2/").status == 200  # Basic as the local admin
    finally:
        directory.start()
    # Back once the worker's hold-off ends (auth/directory/: a failed directory is left alone a while).
    deadline = time.monotonic() + HOLD_OFF_SECONDS + 10
    while (status := token(registry, "alice", "alice-pw").status) == 503 and time.monotonic() < deadline:
        time.sleep(1)
    assert status == 200
