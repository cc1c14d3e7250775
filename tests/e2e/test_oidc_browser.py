"""OpenID Connect end to end: gunicorn (access control on) and a real provider over HTTP
(tests/oidc_provider.py), driven in Chromium. A person signs in with the provider, sees the
repositories their provider group may pull, makes an access token, and the docker CLI logs
in with it, pushes and pulls."""
from __future__ import annotations

import subprocess

import pytest

from tests import builders
from tests.oidc_provider import running_provider

from .portal_browser import Session, browser, shot  # noqa: F401  (fixtures)
from .portal_browser import push as push_as_admin

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with running_provider(tmp_path_factory.mktemp("oidc-provider")) as running:
        yield running


@pytest.fixture
def oidc_registry(start_registry, provider):
    with start_registry("oidc", **provider.settings_env(REGISTRY_OIDC_STAFF_GROUPS="registry-staff")) as registry:
        registry.manage("shell", "-c", (
            "from django.contrib.auth.models import Group; from registry_api.models import Grant, Namespace; "
            "Grant.objects.create(namespace=Namespace.objects.create(name='devs'), "
            "group=Group.objects.create(name='developers'), level='push')"))
        yield registry


def _sign_in_with_provider(session, sub: str, then: str) -> None:
    page = session.page
    page.goto(f"/login/?next={then}")
    before = len(session.outside)
    page.get_by_role("link", name="Sign in with Mock ID").click()
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"**{then}")
    # The provider's own page asks a CDN for its style sheet (refused): not the portal's doing.
    provider_page = session.outside[before:]
    assert all("pico" in url for url in provider_page), provider_page
    del session.outside[before:]


def test_sign_in_make_a_token_then_docker_push_and_pull(browser, oidc_registry, provider, dockerd, tmp_path):
    registry = oidc_registry
    push_as_admin(registry, tmp_path, "devs/app", "v1", builders.image("oidc-devs-app"))
    push_as_admin(registry, tmp_path, "ops/secret", "v1", builders.image("oidc-ops-secret"))
    provider.set_user("sub-maria", preferred_username="maria", email="maria@example.test", groups=["developers"])

    session = Session(browser, registry)
    try:
        page = session.page
        _sign_in_with_provider(session, "sub-maria", "/repositories/")
        assert page.locator("header .who").inner_text() == "maria"
        listed = page.locator("main").inner_text()
        assert "devs/app" in listed and "ops/secret" not in listed
        shot(page, "oidc-repositories")

        page.get_by_role("link", name="Access tokens").click()
        page.get_by_label("Name", exact=True).fill("laptop")
        page.get_by_role("button", name="Create token").click()
        secret = page.locator("#token-secret").inner_text()
        assert page.locator("#login-command").inner_text() == f"docker login {registry.host} -u maria --password-stdin"

        login = subprocess.run(["docker", "login", registry.host, "-u", "maria", "--password-stdin"],
                               input=secret, env=dockerd.env, capture_output=True, text=True, timeout=60)
        assert login.returncode == 0, login.stderr
        image = builders.image("oidc-pushed", layer_count=2, docker=True)
        archive = builders.docker_archive(tmp_path / "image.tar", image, ["e2e/oidc:latest"])
        dockerd("load", "-i", archive)
        ref = f"{registry.host}/devs/pushed:v1"
        dockerd("tag", "e2e/oidc:latest", ref)
        assert "digest: sha256:" in dockerd("push", ref)
        dockerd("image", "rm", ref, "e2e/oidc:latest")
        assert f"Status: Downloaded newer image for {ref}" in dockerd("pull", ref)
        assert dockerd.inspect(ref)["Id"] == image.config.digest
        denied = subprocess.run(["docker", "pull", f"{registry.host}/ops/secret:v1"], env=dockerd.env,
                                capture_output=True, text=True, timeout=60)
        assert denied.returncode != 0

        # The page shows the token's use; signing out ends the session.
        page.goto("/tokens/")
        assert page.locator("#token-table tbody tr", has_text="laptop").locator("time").count() == 2
        page.get_by_role("button", name="Sign out").click()
        page.goto("/tokens/")
        assert "/login/" in page.url
    finally:
        session.close()
        subprocess.run(["docker", "logout", registry.host], env=dockerd.env, capture_output=True, timeout=60)


def test_a_forged_state_in_the_browser_is_an_error_page(browser, oidc_registry, provider):
    provider.set_user("sub-nils", preferred_username="nils", groups=["registry-staff"])
    session = Session(browser, oidc_registry)
    try:
        page = session.page
        page.goto("/oidc/callback/?code=whatever&state=forged")
        assert page.locator("#oidc-error").inner_text() == (
            "This sign-in was not started here or was already used (state).")
        assert page.title().startswith("Sign-in failed")
        _sign_in_with_provider(session, "sub-nils", "/")
        # Staff by the provider's group: the admin opens.
        page.goto("/admin/")
        assert page.url.endswith("/admin/")  # not sent to the admin's sign-in page
        assert page.get_by_role("button", name="Log out").is_visible()
    finally:
        session.close()
