"""Access control as installed, over real HTTP: the defaults with nothing configured (secure,
a random admin password written 0600 and logged once, tokens surviving a restart), and
REGISTRY_ANONYMOUS_PULL=true (anyone pulls, yet a wrong password never "logs in")."""
from __future__ import annotations

import base64
import dataclasses
import json
import stat
import subprocess
import urllib.parse

import pytest

from tests import builders

from .conftest import _running_registry
from .support import LiveRegistry, require_tool

pytestmark = pytest.mark.e2e

SERVICE = "docker-registry-manager"


def skopeo_run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([require_tool("skopeo"), *map(str, args)], capture_output=True, text=True, timeout=120)


def anonymous(registry: LiveRegistry) -> LiveRegistry:
    return dataclasses.replace(registry, credentials=None)


def token_for(registry: LiveRegistry, scope: str) -> dict:
    """GET /auth/token as the admin, with a refresh token (as `docker login` asks)."""
    user, password = registry.credentials
    query = urllib.parse.urlencode({"service": SERVICE, "scope": scope, "offline_token": "true"})
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    response = registry.request("GET", f"/auth/token?{query}", headers={"Authorization": auth})
    assert response.status == 200, response.body
    return response.json()


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_with_nothing_configured_it_is_secure_private_and_survives_a_restart(tmp_path):
    layout = builders.image_layout(tmp_path / "layout", "v1", builders.image("defaults", layer_count=1))
    with _running_registry(tmp_path, auth=None, admin_password=None, sqlite=True) as registry:
        data, password = registry.data_dir, registry.credentials[1]
        challenged = anonymous(registry).request("GET", "/v2/")
        assert challenged.status == 401 and challenged.headers["WWW-Authenticate"].startswith('Bearer realm="')
        target = f"docker://{registry.host}/team/app:v1"
        refused = skopeo_run("copy", "--dest-tls-verify=false", "--dest-no-creds", f"oci:{layout}:v1", target)
        assert refused.returncode != 0
        pushed = skopeo_run("copy", "--dest-tls-verify=false", "--dest-creds", f"admin:{password}",
                            f"oci:{layout}:v1", target)
        assert pushed.returncode == 0, pushed.stderr
        pulled = skopeo_run("inspect", "--raw", "--tls-verify=false", "--no-creds", target)
        assert pulled.returncode != 0 and "unauthorized" in pulled.stderr.lower()
        issued = token_for(registry, "repository:team/app:pull")
        for name in ("admin.password", "registry.sqlite3", "secret_key", "token_key.pem"):
            assert mode(data / name) == 0o600, name
        assert mode(data) == 0o700
    with _running_registry(tmp_path, auth=None, admin_password=None, sqlite=True) as registry:
        bearer = {"Authorization": f"Bearer {issued['token']}"}
        assert registry.request("GET", "/v2/team/app/tags/list", headers=bearer).status == 200
        form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": issued["refresh_token"],
                                       "service": SERVICE, "client_id": "e2e", "scope": "repository:team/app:pull"})
        refreshed = anonymous(registry).request(
            "POST", "/auth/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert refreshed.status == 200, refreshed.body
        assert registry.credentials[1] == password  # the file was not rewritten
    log = registry.log.read()
    # Two migrates and two servers of two workers each: the password is in the log once.
    assert log.count(password) == 1 and log.count("created superuser 'admin'") == 1


@pytest.fixture(scope="module")
def public_image(anonymous_pull_registry, tmp_path_factory):
    image = builders.image("anonymous-pull", layer_count=2)
    layout = builders.image_layout(tmp_path_factory.mktemp("anon-src"), "v1", image)
    result = skopeo_run("copy", "--dest-tls-verify=false", "--dest-creds", ":".join(anonymous_pull_registry.credentials),
                        f"oci:{layout}:v1", f"docker://{anonymous_pull_registry.host}/pub/app:v1")
    assert result.returncode == 0, result.stderr
    return image, layout


def test_with_anonymous_pull_skopeo_login_still_needs_the_right_password(anonymous_pull_registry, tmp_path):
    registry, authfile = anonymous_pull_registry, tmp_path / "auth.json"
    assert anonymous(registry).request("GET", "/v2/").status == 401
    wrong = skopeo_run("login", "--tls-verify=false", "--authfile", authfile, "-u", "admin", "-p", "wrong", registry.host)
    assert wrong.returncode != 0 and "Login Succeeded" not in wrong.stdout
    right = skopeo_run("login", "--tls-verify=false", "--authfile", authfile, "-u", "admin",
                       "-p", registry.credentials[1], registry.host)
    assert right.returncode == 0 and "Login Succeeded" in right.stdout, right.stderr


def test_with_anonymous_pull_anyone_pulls_and_nobody_anonymous_pushes(anonymous_pull_registry, public_image, tmp_path):
    image, layout = public_image
    host = anonymous_pull_registry.host
    pulled = skopeo_run("copy", "--src-tls-verify=false", "--src-no-creds", f"docker://{host}/pub/app:v1",
                        f"dir:{tmp_path / 'pulled'}")
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "pulled" / "manifest.json").read_bytes() == image.manifest.data
    for blob in image.blobs:
        assert (tmp_path / "pulled" / blob.digest.split(":", 1)[1]).read_bytes() == blob.data
    pushed = skopeo_run("copy", "--dest-tls-verify=false", "--dest-no-creds", f"oci:{layout}:v1",
                        f"docker://{host}/pub/app:v2")
    assert pushed.returncode != 0
    assert json.loads(anonymous_pull_registry.request("GET", "/v2/pub/app/tags/list").body)["tags"] == ["v1"]
