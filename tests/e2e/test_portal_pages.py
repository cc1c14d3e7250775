"""The portal's compare, index and delete pages in headless Chromium, after real pushes with
skopeo; what each page says is checked against the images pushed and against /v2/."""
from __future__ import annotations

import pytest

from tests import builders

from .portal_browser import browser, page, push, push_index, session, shot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e


def test_compare_suggests_every_tag_and_compares_an_index_by_platform(page, secured_registry, tmp_path):
    registry, name = secured_registry, "portalpages/compare"
    old, new = builders.image("cmp-old", layer_count=2), builders.image("cmp-new", layer_count=3)
    push(registry, tmp_path, name, "1.0", old)
    push(registry, tmp_path, name, "2.0", new)
    amd64, arm64 = builders.image("cmp-m", architecture="amd64"), builders.image("cmp-m", architecture="arm64")
    push_index(registry, tmp_path, name, "multi", [amd64, arm64])
    sign_in(page, then=f"/repositories/{name}/")

    # The form suggests tags from the management API as one types (every tag, not the page's rows).
    to = page.get_by_label("To", exact=True)
    to.fill("")
    with page.expect_response(lambda r: f"/api/v1/repositories/{name}/-/tags/?q=1." in r.url) as suggested:
        to.press_sequentially("1.", delay=30)
        page.wait_for_function("document.querySelector('form[data-tag-suggest]').dataset.suggested === '1.'")
    assert suggested.value.status == 200 and [t["name"] for t in suggested.value.json()["results"]] == ["1.0"]
    assert page.locator("#tag-names option").evaluate_all("os => os.map(o => o.value)") == ["1.0"]
    to.fill("1.0")  # what choosing the suggestion does
    page.get_by_label("From", exact=True).fill("2.0")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/-/compare/?a=2.0&b=1.0")
    assert page.locator("#layers-removed").inner_text() == "3" and page.locator("#layers-added").inner_text() == "2"
    shot(page, "10-compare")

    # An index: the platform is chosen on the page, and the comparison follows it.
    page.get_by_label("From", exact=True).fill("multi")
    page.get_by_label("To", exact=True).fill("multi")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**a=multi&b=multi")
    assert page.locator("#config-identical").is_visible()
    page.get_by_label("Platform of multi").nth(1).select_option("linux/arm64")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**bp=linux%2Farm64")
    assert page.locator("#platform-a").inner_text() == "linux/amd64"
    assert page.locator("#platform-b").inner_text() == "linux/arm64"
    assert page.locator("#compare-config").get_by_role("rowheader", name="platform").is_visible()
    shot(page, "11-compare-index")


def test_index_page_links_each_platform_and_deleting_an_image_warns(page, secured_registry, tmp_path):
    registry, name = secured_registry, "portalpages/multi"
    amd64, arm64 = builders.image("idx", architecture="amd64"), builders.image("idx", architecture="arm64")
    index = push_index(registry, tmp_path, name, "latest", [amd64, arm64])
    sign_in(page, then=f"/repositories/{name}/manifests/{index.digest}/")
    children = page.locator("#children-table tbody tr")
    assert children.evaluate_all("rows => rows.map(r => r.dataset.platform)") == ["linux/amd64", "linux/arm64"]
    shot(page, "12-index")

    # Each platform links to its image, whose page shows what /v2/ serves for it.
    page.locator('tr[data-platform="linux/arm64"]').get_by_role("link").click()
    page.wait_for_url(f"**/manifests/{arm64.manifest.digest}/")
    assert page.locator("#config-platform").inner_text() == "linux/arm64"

    # Deleting that image: the confirmation names the index and its tag, and needs the box.
    page.get_by_role("link", name="Delete manifest…").click()
    warning = page.locator("#dependents")
    assert "lists it" in warning.inner_text() and "linux/arm64" in warning.inner_text()
    assert warning.get_by_role("link").get_attribute("href").endswith(f"/manifests/{index.digest}/")
    assert "latest" in page.locator("#dependent-indexes").inner_text()
    shot(page, "13-confirm-delete-index-child")
    page.get_by_role("button", name="Delete").click()
    assert page.evaluate("document.querySelector('#confirm-dependents').validity.valueMissing")  # the browser refused
    assert registry.manifest(name, arm64.manifest.digest).status == 200
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"**/repositories/{name}/")
    assert registry.manifest(name, arm64.manifest.digest).status == 404

    # The index still lists the platform, now shown as missing rather than as present.
    page.goto(f"/repositories/{name}/manifests/{index.digest}/")
    arm = page.locator('tr[data-platform="linux/arm64"]')
    assert "missing: not in this registry" in arm.inner_text() and arm.get_by_role("link").count() == 0
    page.goto(f"/repositories/{name}/")
    assert "linux/arm64 (missing)" in page.locator('tr[data-tag="latest"] td.platforms').inner_text()
    shot(page, "14-index-missing-platform")


def test_repository_delete_needs_its_name_typed(page, secured_registry, tmp_path):
    registry, name = secured_registry, "portalpages/doomed"
    push(registry, tmp_path, name, "1", builders.image("doomed"))
    sign_in(page, then=f"/repositories/{name}/")
    page.get_by_role("link", name="Delete repository…").click()
    page.wait_for_url(f"**/repositories/{name}/-/delete/")
    field = page.get_by_label(f"Type {name} to confirm")
    field.fill("portalpages/doome")
    shot(page, "15-confirm-delete-repository")
    page.get_by_role("button", name="Delete").click()
    assert "Type the repository" in page.locator(".messages").inner_text()
    assert registry.request("GET", f"/v2/{name}/tags/list").status == 200
    page.get_by_label(f"Type {name} to confirm").fill(name)
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/repositories/")
    assert f"Deleted repository {name} (1 tag, 1 manifest)." in page.locator(".messages").inner_text()
    assert registry.request("GET", f"/v2/{name}/tags/list").status == 404
