"""The portal's layout on a desktop (1280 px) and a phone (390 px) in headless Chromium:
every tag's Copy pull and Delete controls are on screen (inside the viewport's width, not
clipped by a scrolling table) and clickable, whatever the tag names and artifact types;
the charts' text is readable; a copy button's label comes back after quick clicks."""
from __future__ import annotations

import pytest

from tests import builders

from .portal_browser import DESKTOP, PHONE, SCREENSHOTS, Session, browser, horizontally_visible, push, push_index, shot, sign_in  # noqa: F401

pytestmark = pytest.mark.e2e
NAME = "portalphone/app"
LONG_TAG = "nightly-2026-12-01-build-4711-commit-0123456789abcdef0123456789abcdef"
ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"


@pytest.fixture(scope="module")
def pushed(secured_registry, tmp_path_factory):
    """Tags of every kind: images, a long name, an index, a signature (a long artifact
    type), and an untagged image."""
    tmp = tmp_path_factory.mktemp("portal-phone")
    image = builders.image("phone-app", layer_count=2, created="2026-11-30T12:00:00Z")
    push(secured_registry, tmp, NAME, "1.0", image)
    push(secured_registry, tmp, NAME, LONG_TAG, builders.image("phone-long", layer_count=1))
    push_index(secured_registry, tmp, NAME, "multi", [builders.image("phone-m", architecture=a) for a in ("amd64", "arm64")])
    signature = builders.image("phone-sig", layer_count=1, subject=image.manifest, artifact_type=ARTIFACT)
    push(secured_registry, tmp, NAME, "sha256-" + image.manifest.digest.split(":")[1] + ".sig", signature)
    loose = builders.image("phone-loose", layer_count=1)
    push(secured_registry, tmp, NAME, "loose", loose)
    secured_registry.request("DELETE", f"/v2/{NAME}/manifests/loose")  # the tag only: an untagged image stays
    return secured_registry


@pytest.fixture
def open_at(browser, pushed):
    """`open_at(PHONE)`: a signed-out page of that size, closed (and checked) afterwards."""
    sessions = []

    def opening(viewport: dict):
        sessions.append(Session(browser, pushed, viewport=viewport))
        return sessions[-1].page

    yield opening
    for opened in sessions:
        opened.close()


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def sized(request, open_at):
    return open_at(request.param), request.param["width"]


def _controls(row) -> list:
    names = ("Copy pull", "Delete tag", "Delete manifest")
    return [row.get_by_text(name, exact=True) for name in names if row.get_by_text(name, exact=True).count()]


def test_every_rows_actions_are_on_screen_and_clickable(sized):
    page, width = sized
    sign_in(page, then=f"/repositories/{NAME}/")
    shot(page, f"30-repository-{width}")
    rows = page.locator("#tag-table tbody tr, #untagged-table tbody tr")
    assert page.locator("#tag-table tbody tr").count() == 4 and page.locator("#untagged-table tbody tr").count() >= 1
    checked = 0
    for i in range(rows.count()):
        row = rows.nth(i)
        controls = _controls(row)
        assert len(controls) >= 2, row.inner_text()  # Copy pull and at least one Delete
        for control in controls:
            # Where a person sees it without scrolling sideways: a trial click below may have
            # scrolled a table (or the page) to reach an earlier control.
            page.evaluate("document.querySelectorAll('.table-wrap').forEach(w => { w.scrollLeft = 0; });"
                          "window.scrollTo(0, window.scrollY)")
            visible, where = horizontally_visible(page, control)
            assert visible, (width, row.get_attribute("data-tag") or row.get_attribute("data-digest"), control.inner_text(), where)
            control.click(trial=True)  # actionable: visible, enabled, and not covered by anything
            checked += 1
    assert checked >= 14
    artifact = page.locator("#tag-table td.platforms .truncate")
    assert artifact.get_attribute("title") == ARTIFACT  # the whole type in the tooltip


def test_tag_cells_are_labelled_on_a_phone(open_at):
    page = open_at(PHONE)
    sign_in(page, then=f"/repositories/{NAME}/")
    row = page.locator('tr[data-tag="1.0"]')
    labels = row.locator("[data-label]").evaluate_all(
        "cells => cells.filter(c => getComputedStyle(c).display !== 'none')"
        ".map(c => getComputedStyle(c, '::before').content)")
    assert labels == ['"Tag"', '"Digest"', '"Size"', '"Built"', '"Pushed"', '"Actions"']
    assert page.locator("#tag-table thead").bounding_box()["height"] <= 1  # headers hidden, cells labelled


def test_charts_are_readable_on_a_phone(open_at):
    page = open_at(PHONE)
    sign_in(page)
    sizes = page.locator("#charts th, #charts td.value, #charts .label").evaluate_all(
        "nodes => nodes.map(n => parseFloat(getComputedStyle(n).fontSize))")
    assert sizes and min(sizes) >= 11, sizes
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#charts").screenshot(path=str(SCREENSHOTS / "31-charts-phone.png"))
    shot(page, "32-dashboard-phone")


def test_a_copy_label_comes_back_after_two_quick_clicks(open_at):
    page = open_at(DESKTOP)
    sign_in(page, then=f"/repositories/{NAME}/")
    button = page.get_by_role("button", name="Copy docker pull command for 1.0")
    button.click()
    page.wait_for_timeout(300)
    button.click()  # within the two seconds: the label is "Copied" at this moment
    assert button.inner_text() == "Copied"
    page.wait_for_timeout(2500)
    assert button.inner_text() == "Copy pull"


def test_long_digests_do_not_widen_the_page_on_a_phone(open_at, pushed):
    page = open_at(PHONE)
    digest = pushed.manifest(NAME, "1.0").headers["Docker-Content-Digest"]
    sign_in(page, then=f"/repositories/{NAME}/manifests/{digest}/")
    for path in (f"/repositories/{NAME}/manifests/{digest}/", f"/repositories/{NAME}/manifests/{digest}/delete/",
                 f"/repositories/{NAME}/-/delete/"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    card = page.locator("form.confirm").bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= PHONE["width"]
    page.goto(f"/repositories/{NAME}/manifests/{digest}/")
    box = page.locator("#pull-command").bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"]
    shot(page, "33-manifest-phone")
