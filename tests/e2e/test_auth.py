"""Access control over real HTTP with skopeo: login, credentials, tokens, denials, public pulls.

The registry runs as installed (access control on). Users and tokens are made through
`manage.py shell` against the server's own database, as staff would in the admin:
alice may push to `team`, bob may only pull from it, carol owns `other`, `pub` is public,
the robot account `ci-robot` may push to `team` with its token.
"""
from __future__ import annotations

import base64
import json
import subprocess

import pytest

from tests import builders

from .support import require_tool, send

pytestmark = pytest.mark.e2e

SETUP = """
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from registry_api.auth.credentials import access_token_create
from registry_api.models import AccessToken, Grant, Namespace
from registry_api.services.robots import robot_create
team, _ = Namespace.objects.get_or_create(name="team")
other, _ = Namespace.objects.get_or_create(name="other")
Namespace.objects.get_or_create(name="pub", defaults={"public": True})
users = {}
for name in ("alice", "bob", "carol"):
    users[name], _ = User.objects.get_or_create(username=name)
    users[name].set_password(name + "-pw")
    users[name].save()
Grant.objects.get_or_create(namespace=team, user=users["alice"], level="push")
Grant.objects.get_or_create(namespace=team, user=users["bob"], level="pull")
Grant.objects.get_or_create(namespace=other, user=users["carol"], level="admin")
tokens = {
    "readonly": access_token_create(user=users["alice"], name="ro", read_only=True)[1],
    "expired": access_token_create(user=users["alice"], name="old", expires_at=timezone.now() - timedelta(hours=1))[1],
}
revoked, tokens["revoked"] = access_token_create(user=users["alice"], name="gone")
AccessToken.objects.filter(pk=revoked.pk).update(revoked=True)
tokens["robot"] = robot_create(username="ci-robot", namespace=team, level="push").secret
print(json.dumps(tokens))
"""


@pytest.fixture(scope="module")
def world(secured_registry, tmp_path_factory):
    """Users, grants and tokens on the server, and an image in team/app and pub/app."""
    tokens = json.loads(secured_registry.manage("shell", "-c", "import json\n" + SETUP).strip().splitlines()[-1])
    image = builders.image("auth-e2e", layer_count=2)
    layout = builders.image_layout(tmp_path_factory.mktemp("auth-src"), "v1", image)
    admin = ":".join(secured_registry.credentials)
    for name in ("team/app", "pub/app", "other/secret"):
        skopeo_ok("copy", "--dest-tls-verify=false", "--dest-creds", admin, f"oci:{layout}:v1",
                  f"docker://{secured_registry.host}/{name}:v1")
    return {"registry": secured_registry, "tokens": tokens, "layout": layout, "image": image}


def skopeo_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([require_tool("skopeo"), *args], capture_output=True, text=True, timeout=120)


def skopeo_ok(*args: str) -> str:
    result = skopeo_run(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def inspect(world, name: str, *creds: str, tag: str = "v1") -> subprocess.CompletedProcess:
    return skopeo_run("inspect", "--raw", "--tls-verify=false", *creds, f"docker://{world['registry'].host}/{name}:{tag}")


def push(world, name: str, *creds: str) -> subprocess.CompletedProcess:
    return skopeo_run("copy", "--dest-tls-verify=false", *creds, f"oci:{world['layout']}:v1",
                      f"docker://{world['registry'].host}/{name}:v2")


def test_skopeo_login_then_push_and_pull_with_the_stored_credentials(world, tmp_path):
    host, authfile = world["registry"].host, str(tmp_path / "auth.json")
    bad = skopeo_run("login", "--tls-verify=false", "--authfile", authfile, "-u", "alice", "-p", "wrong", host)
    assert bad.returncode != 0
    skopeo_ok("login", "--tls-verify=false", "--authfile", authfile, "-u", "alice", "-p", "alice-pw", host)
    assert push(world, "team/pushed", "--authfile", authfile).returncode == 0
    pulled = inspect(world, "team/pushed", "--authfile", authfile, tag="v2")
    assert pulled.returncode == 0 and pulled.stdout.encode() == world["image"].manifest.data


def test_pull_only_user_is_denied_push(world):
    result = push(world, "team/app", "--dest-creds", "bob:bob-pw")
    assert result.returncode != 0 and "denied" in result.stderr.lower()
    assert inspect(world, "team/app", "--creds", "bob:bob-pw").returncode == 0


def test_read_only_token_pulls_but_cannot_push(world):
    creds = f"alice:{world['tokens']['readonly']}"
    assert inspect(world, "team/app", "--creds", creds).returncode == 0
    result = push(world, "team/app", "--dest-creds", creds)
    assert result.returncode != 0 and "denied" in result.stderr.lower()


def test_a_robot_pushes_with_its_access_token(world):
    creds = f"ci-robot:{world['tokens']['robot']}"
    result = push(world, "team/robot", "--dest-creds", creds)
    assert result.returncode == 0, result.stderr
    pulled = inspect(world, "team/robot", "--creds", creds, tag="v2")
    assert pulled.returncode == 0 and pulled.stdout.encode() == world["image"].manifest.data
    assert push(world, "other/robot", "--dest-creds", creds).returncode != 0


def test_a_read_only_token_pulls_a_whole_image(world, tmp_path):
    creds = f"alice:{world['tokens']['readonly']}"
    pulled = skopeo_run("copy", "--src-tls-verify=false", "--src-creds", creds,
                        f"docker://{world['registry'].host}/team/app:v1", f"dir:{tmp_path / 'pulled'}")
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "pulled" / "manifest.json").read_bytes() == world["image"].manifest.data
    for blob in world["image"].blobs:
        assert (tmp_path / "pulled" / blob.digest.split(":", 1)[1]).read_bytes() == blob.data


@pytest.mark.parametrize("which", ["expired", "revoked"])
def test_expired_or_revoked_token_is_refused(world, which):
    result = inspect(world, "team/app", "--creds", f"alice:{world['tokens'][which]}")
    assert result.returncode != 0 and "unauthorized" in result.stderr.lower()


def test_user_of_one_namespace_can_neither_read_nor_list_another(world):
    result = inspect(world, "team/app", "--creds", "carol:carol-pw")
    assert result.returncode != 0
    assert inspect(world, "other/secret", "--creds", "carol:carol-pw").returncode == 0
    registry = world["registry"]
    token = _token(registry, "carol:carol-pw", "registry:catalog:*")
    listing = registry.request("GET", "/v2/_catalog", headers={"Authorization": f"Bearer {token}"})
    assert listing.status == 200
    names = listing.json()["repositories"]
    assert "other/secret" in names and "pub/app" in names
    assert not any(name.startswith("team/") for name in names)


def _token(registry, creds: str | None, *scopes: str) -> str:
    query = "&".join(f"scope={s}" for s in scopes)
    headers = {"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()} if creds else {"Authorization": ""}
    conn = registry.connection()
    try:
        response = send(conn, "GET", f"/auth/token?service=docker-registry-manager&{query}", headers=headers)
    finally:
        conn.close()
    assert response.status == 200, response.body
    return response.json()["token"]


def test_tampered_token_is_refused(world):
    registry = world["registry"]
    token = _token(registry, "bob:bob-pw", "repository:team/app:pull")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["access"] = [{"type": "repository", "name": "team/app", "actions": ["pull", "push", "delete"]}]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = registry.request(
        "DELETE", "/v2/team/app/manifests/v1", headers={"Authorization": f"Bearer {header}.{forged}.{signature}"}
    )
    assert response.status == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert registry.request("GET", "/v2/team/app/manifests/v1").status == 200  # still there


def test_anonymous_pull_works_only_on_public_repositories(world):
    public = inspect(world, "pub/app", "--no-creds")
    assert public.returncode == 0 and public.stdout.encode() == world["image"].manifest.data
    private = inspect(world, "team/app", "--no-creds")
    assert private.returncode != 0 and "unauthorized" in private.stderr.lower()
    anonymous_push = push(world, "pub/app", "--dest-no-creds")
    assert anonymous_push.returncode != 0
