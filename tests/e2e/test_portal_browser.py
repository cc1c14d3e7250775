"""The portal in a real headless Chromium (Debian's `chromium`, driven by Playwright; no
downloaded browser) against gunicorn with access control on, after pushes with skopeo.

Every page's data is checked against what the registry itself says (/v2/ answers, the
images' own digests). Screenshots go to test-artifacts/screenshots/ (kept by CI). The other
portal browser tests: test_portal_pages.py (compare, index, deletes), test_portal_access.py
(filters, sign out, anonymous visitors, keyboard) and test_portal_phone.py (layouts).
"""
from __future__ import annotations

import base64
import importlib
import json

import pytest

from tests import builders

from .conftest import ADMIN_PASSWORD
from .portal_browser import browser, page, session, shot, sign_in  # noqa: F401  (fixtures)
from .portal_browser import push as _push_as
from .support import skopeo_push

pytestmark = pytest.mark.e2e

NAME = "portal/webapp"


def _push(registry, tmp_path, tag: str, image: builders.Image, name: str = NAME) -> None:
    _push_as(registry, tmp_path, name, tag, image)


def _v2(registry, path: str) -> dict:
    response = registry.request("GET", path)
    assert response.status == 200, (path, response.status, response.body[:300])
    return response.json()


def test_browse_copy_and_delete_in_a_real_browser(page, secured_registry, tmp_path):
    registry = secured_registry
    v1, v2 = builders.image("portal-v1", layer_count=2), builders.image("portal-v2", layer_count=3)
    _push(registry, tmp_path, "other", builders.image("portal-other", layer_count=1), name="portal/other")
    _push(registry, tmp_path, "v1", v1)

    # Dashboard: figures as /v2/ counts them, then refreshed live after another push.
    sign_in(page)
    catalog = _v2(registry, "/v2/_catalog")["repositories"]
    tag_total = sum(len(_v2(registry, f"/v2/{name}/tags/list")["tags"] or []) for name in catalog)
    # The figures may be cached for a few seconds (REGISTRY_DASHBOARD_CACHE_SECONDS): the
    # page catches up at its next poll.
    page.wait_for_function(
        f"document.querySelector('[data-figure=repositories]').textContent == '{len(catalog)}' && "
        f"document.querySelector('[data-figure=tags]').textContent == '{tag_total}'", timeout=15_000)
    assert page.locator("#recent-pushes li").first.inner_text().startswith(f"{NAME}:v1")
    _push(registry, tmp_path, "v2", v2)
    # The figures come from the management API's summary, with the portal's session.
    with page.expect_response(lambda r: r.url.endswith("/api/v1/summary/") and r.json()["tags"] == tag_total + 1,
                              timeout=15_000) as polled:
        pass
    assert polled.value.status == 200 and polled.value.json()["recent"][0]["tag"] == "v2"
    page.wait_for_function(f"document.querySelector('[data-figure=tags]').textContent == '{tag_total + 1}'", timeout=15_000)
    assert page.locator("#recent-pushes li").first.inner_text().startswith(f"{NAME}:v2")
    shot(page, "01-dashboard")

    # Repositories: the search filters as one types, without submitting.
    page.get_by_role("link", name="Repositories", exact=True).click()
    assert page.locator("#repository-table tbody tr").count() >= 2
    page.get_by_label("Search").press_sequentially("webap", delay=30)
    page.wait_for_url("**/repositories/?q=webap*")  # the page was not reloaded: the script fetched
    page.wait_for_function("document.querySelectorAll('#repository-table tbody tr').length == 1")
    assert page.locator("#repository-table tbody tr td").first.inner_text().strip() == NAME
    shot(page, "02-repositories-search")

    # Repository: digests and sizes as pushed, newest first; the pull command is copied.
    page.get_by_role("link", name=NAME).click()
    page.wait_for_url(f"**/repositories/{NAME}/")
    rows = page.locator("#tag-table tbody tr")
    assert rows.count() == 2 and rows.nth(0).get_attribute("data-tag") == "v2"
    v1_row = page.locator('tr[data-tag="v1"]')
    assert v1_row.locator("td.digest a").get_attribute("title") == v1.manifest.digest
    v1_size = sum(len(b.data) for b in v1.blobs)  # blobs: the portal counts no manifest bytes
    assert v1_row.locator("td.num").get_attribute("title") == f"{v1_size} bytes"
    v1_row.get_by_role("button", name="Copy docker pull command for v1").click()
    expected = f"docker pull {registry.host}/{NAME}:v1"
    page.wait_for_function("document.body.dataset.lastCopied !== undefined")
    assert page.evaluate("navigator.clipboard.readText()") == expected
    shot(page, "03-repository")

    # Manifest page: layers and config from the image itself.
    v1_row.locator("td.digest a").click()
    page.wait_for_url(f"**/manifests/{v1.manifest.digest}/")
    layer_titles = page.locator("#layer-table tbody code[title]").evaluate_all("nodes => nodes.map(n => n.title)")
    assert layer_titles == [b.digest for b in v1.blobs]
    assert page.locator("#config-platform").inner_text() == "linux/amd64"
    assert json.loads(page.locator("#manifest-json").inner_text()) == json.loads(v1.manifest.data)
    shot(page, "04-manifest")

    # Delete tag v1 (confirmation page, CSRF form); /v2/ no longer lists it.
    page.go_back()
    page.locator('tr[data-tag="v1"]').get_by_role("link", name="Delete tag v1").click()
    shot(page, "05-confirm-delete")
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"**/repositories/{NAME}/")
    assert page.locator(".messages").get_by_role("listitem").inner_text().strip() == "Deleted tag v1."
    assert page.locator("#tag-table tbody tr").count() == 1
    assert _v2(registry, f"/v2/{NAME}/tags/list")["tags"] == ["v2"]
    shot(page, "06-after-delete")

    # A phone-sized screen shows each tag as a card (test_portal_phone.py checks it closely).
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.get_by_role("heading", name=NAME).is_visible()
    shot(page, "07-repository-phone")


def test_management_delete_url_with_basic_credentials(secured_registry, tmp_path):
    """The documented DELETE for scripts (an alias of the management API's), over real HTTP."""
    registry = secured_registry
    layout = builders.image_layout(tmp_path / "layout", "1", builders.image("portal-gone"))
    skopeo_push(f"oci:{layout}:1", f"docker://{registry.host}/portal/gone:1", "--dest-creds", f"admin:{ADMIN_PASSWORD}")
    auth = "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    response = registry.request("DELETE", "/api/repositories/portal/gone", headers={"Authorization": auth})
    assert response.status == 200 and response.json() == {"deleted": "portal/gone", "tags": 1, "manifests": 1}
    assert registry.request("GET", "/v2/portal/gone/tags/list").status == 404
    assert registry.request("DELETE", "/api/repositories/portal/gone", headers={"Authorization": "Basic eDp5"}).status == 401
