"""Self-service access tokens in a real Chromium against gunicorn (access control on): a
person creates a token limited to one namespace, copies the secret shown once, pushes and
pulls with it there (skopeo), is refused elsewhere, then revokes it in the page."""
from __future__ import annotations

import subprocess

import pytest

from tests import builders

from .portal_browser import browser, page, session, shot, sign_in  # noqa: F401  (fixtures)
from .support import require_tool, skopeo_push, skopeo_raw

pytestmark = pytest.mark.e2e


def _copy(tmp_path, registry, name: str, secret: str, user: str = "admin") -> subprocess.CompletedProcess:
    layout = builders.image_layout(tmp_path / f"layout-{name.replace('/', '-')}", "v1", builders.image(name))
    return subprocess.run(
        [require_tool("skopeo"), "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"{user}:{secret}",
         f"oci:{layout}:v1", f"docker://{registry.host}/{name}:v1"],
        capture_output=True, text=True, timeout=120,
    )


def test_a_namespace_token_made_in_the_page_pushes_there_only(page, secured_registry, tmp_path):
    registry = secured_registry
    registry.manage("shell", "-c", "from registry_api.models import Namespace; "
                    "Namespace.objects.get_or_create(name='tokteam')")
    sign_in(page, then="/tokens/")
    page.get_by_label("Name", exact=True).fill("ci pipeline")
    page.get_by_label("Only in namespace").fill("tokteam")
    page.get_by_label("Expires in").select_option("30")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#token-secret").inner_text()
    assert secret.startswith("drm_")
    assert page.locator("#login-command").inner_text() == f"docker login {registry.host} -u admin --password-stdin"
    page.get_by_role("button", name="Copy the token").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    row = page.locator("#token-table tbody tr", has_text="ci pipeline")
    assert "in tokteam/" in row.inner_text()
    shot(page, "tokens-created")

    # A superuser's token, yet limited to its namespace.
    assert _copy(tmp_path, registry, "tokteam/app", secret).returncode == 0
    assert skopeo_raw(f"docker://{registry.host}/tokteam/app:v1", "--creds", f"admin:{secret}")
    refused = _copy(tmp_path, registry, "tokother/app", secret)
    assert refused.returncode != 0 and "403 (Forbidden)" in refused.stderr
    assert registry.request("GET", "/v2/tokother/app/tags/list").status == 404

    # Last use shows after a reload; the secret is not on the page any more.
    page.goto("/tokens/")
    assert secret not in page.content()
    assert row.locator("time").count() == 2  # expiry and last use
    row.get_by_role("button", name="Revoke ci pipeline").click()
    assert page.get_by_text("Token ci pipeline revoked.").is_visible()
    assert "revoked" in page.locator("#token-table tbody tr", has_text="ci pipeline").inner_text()
    assert _copy(tmp_path, registry, "tokteam/app2", secret).returncode != 0
    # The admin's own password still pushes anywhere.
    skopeo_push(f"oci:{builders.image_layout(tmp_path / 'pw', 'v1', builders.image('pw'))}:v1",
                f"docker://{registry.host}/tokother/app:v1", "--dest-creds", f"admin:{registry.credentials[1]}")
