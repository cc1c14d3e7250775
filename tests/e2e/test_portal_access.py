"""The repository list's filters, signing out, what an anonymous visitor sees, and the
portal used from the keyboard alone, in headless Chromium after real pushes."""
from __future__ import annotations

import pytest

from tests import builders

from .portal_browser import browser, page, push, session, shot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

PUBLIC_NS, PRIVATE_NS = "portalopen", "portalclosed"


@pytest.fixture(scope="module")
def listed(secured_registry, tmp_path_factory):
    """Two namespaces, one public (made so in the server's database, as in the admin)."""
    tmp = tmp_path_factory.mktemp("portal-access")
    for name, layers in ((f"{PUBLIC_NS}/small", 1), (f"{PUBLIC_NS}/big", 4), (f"{PRIVATE_NS}/mid", 2)):
        push(secured_registry, tmp, name, "1", builders.image(f"access-{name}", layer_count=layers))
    secured_registry.manage("shell", "-c", (
        "from registry_api.models import Namespace\n"
        f"Namespace.objects.update_or_create(name='{PUBLIC_NS}', defaults={{'public': True}})"
    ))
    return secured_registry


def _names(page) -> list[str]:
    return page.locator("#repository-table tbody td:first-child a").all_inner_texts()


def test_namespace_filter_and_sort(page, listed):
    sign_in(page, then="/repositories/")
    page.get_by_label("Namespace").select_option(PUBLIC_NS)
    page.wait_for_function(f"location.search.includes('namespace={PUBLIC_NS}')")
    page.wait_for_function("document.querySelectorAll('#repository-table tbody tr').length == 2")
    assert _names(page) == [f"{PUBLIC_NS}/big", f"{PUBLIC_NS}/small"]
    page.get_by_label("Sort by").select_option("-size")
    page.wait_for_function("location.search.includes('sort=-size')")
    page.wait_for_function(f"document.querySelector('#repository-table tbody td a').textContent == '{PUBLIC_NS}/big'")
    page.get_by_label("Sort by").select_option("size")
    page.wait_for_function(f"document.querySelector('#repository-table tbody td a').textContent == '{PUBLIC_NS}/small'")
    assert "public via namespace" in page.locator("#repository-table tbody tr").first.inner_text()
    shot(page, "20-repositories-namespace-sort")


def test_sign_out(page, listed):
    sign_in(page, then="/repositories/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/")
    assert page.get_by_role("link", name="Sign in").is_visible()
    page.goto(f"/repositories/{PRIVATE_NS}/mid/")
    assert "/login/?next=" in page.url  # private again: sent to sign in


def test_an_anonymous_visitor_sees_public_repositories_only(page, listed):
    page.goto("/repositories/")
    names = _names(page)
    assert f"{PUBLIC_NS}/big" in names and f"{PUBLIC_NS}/small" in names
    assert not [n for n in names if n.startswith(PRIVATE_NS)]
    page.goto(f"/repositories/{PUBLIC_NS}/big/")
    assert page.get_by_role("heading", name=f"{PUBLIC_NS}/big").is_visible()
    assert page.get_by_role("link", name="Delete tag 1").count() == 0  # may look, not delete
    page.goto("/")
    assert PRIVATE_NS not in page.locator("#recent-pushes").inner_text()
    assert PRIVATE_NS not in page.locator("#charts").inner_text()
    shot(page, "21-anonymous-dashboard")


def _tab_to(page, selector: str, limit: int = 40) -> int:
    """Press Tab until the element matching `selector` has the focus; the number of presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return presses
    raise AssertionError(f"{selector} never got the focus in {limit} Tab presses")


def test_keyboard_alone_reaches_the_search_box_and_a_copy_button(page, listed):
    sign_in(page, then="/repositories/")
    page.goto("/repositories/")
    assert _tab_to(page, "a.skip-link") == 1  # the first stop, before the site's links
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    _tab_to(page, "#q")
    status = page.locator("#results-status")
    status.evaluate("node => { node.dataset.original = 'yes'; }")  # to see it is the same node after
    page.keyboard.type(f"{PUBLIC_NS}/b", delay=30)
    # The skip link left #main in the URL: the search must still reach the server's filter.
    page.wait_for_function("document.querySelectorAll('#repository-table tbody tr').length == 1")
    assert status.get_attribute("data-original") == "yes" and status.inner_text() == "1 repository match."
    assert status.get_attribute("aria-live") == "polite"
    shot(page, "22-keyboard-search")

    page.goto(f"/repositories/{PUBLIC_NS}/big/")
    _tab_to(page, "button[data-copy^='docker pull']")
    page.keyboard.press("Enter")
    button = page.locator("button[data-copy^='docker pull']").first
    page.wait_for_function("document.body.dataset.lastCopied !== undefined")
    assert page.evaluate("navigator.clipboard.readText()") == f"docker pull {listed.host}/{PUBLIC_NS}/big:1"
    assert button.inner_text() == "Copied"
    assert page.locator("#announcer").inner_text().startswith("Copied to the clipboard")
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused != "none"  # the focus is visible
    shot(page, "23-keyboard-copy")


def test_the_live_dashboard_polls_the_management_api(page, listed):
    """The figures are the management API's summary (the page shows what it answers); when
    its version moves, the parts the server draws are taken from a fresh copy of the page.
    The portal's old /api/summary is never asked."""
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    sign_in(page)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/summary/"), timeout=15_000) as polled:
        pass
    assert polled.value.status == 200 and polled.value.request.headers["accept"] == "application/json"
    real = polled.value.json()
    answers = []

    def rewrite(route):
        data = route.fetch().json()
        data["tags"] = 4242
        data["version"] = f"forced-{len(answers)}"  # redraw even if nothing else changed
        answers.append(data)
        route.fulfill(json=data)

    # Spoil what the server drew; only a redraw from the page brings it back.
    page.evaluate("document.getElementById('recent-pushes').replaceChildren()")
    page.route("**/api/v1/summary/", rewrite)
    page.wait_for_function("document.querySelector('[data-figure=tags]').textContent === '4242'", timeout=15_000)
    page.wait_for_function("document.querySelectorAll('#recent-pushes li').length > 0", timeout=15_000)
    first = page.locator("#recent-pushes li a").first
    assert first.get_attribute("href") == f"/repositories/{real['recent'][0]['repository']}/"
    assert first.inner_text() == f"{real['recent'][0]['repository']}:{real['recent'][0]['tag']}"
    assert page.locator("[data-figure=repositories]").inner_text() == str(real["repositories"])
    assert not [url for url in asked if "/api/summary" in url]


def test_anonymous_visitors_get_live_figures_and_tag_suggestions(page, secured_registry, tmp_path):
    """Not signed in, on a registry with a public namespace: the dashboard's poll and the
    compare form's suggestions are answered by the management API, over public data only."""
    name = "portalpairs/app"
    for tag in ("1.0", "2.0"):
        push(secured_registry, tmp_path, name, tag, builders.image(f"pairs-{tag}"))
    secured_registry.manage("shell", "-c", (
        "from registry_api.models import Namespace\n"
        "Namespace.objects.update_or_create(name='portalpairs', defaults={'public': True})"
    ))
    page.goto("/")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/summary/"), timeout=15_000) as polled:
        pass
    figures = polled.value.json()
    assert polled.value.status == 200 and figures["repositories"] >= 1
    # Other tests share the server and may make namespaces public; never this private one.
    assert PRIVATE_NS not in {u["namespace"] for u in figures["storage_by_namespace"]}
    assert not [push for push in figures["recent"] if push["repository"].startswith(f"{PRIVATE_NS}/")]

    page.goto(f"/repositories/{name}/")
    to = page.get_by_label("To", exact=True)
    to.fill("")
    with page.expect_response(lambda r: f"/api/v1/repositories/{name}/-/tags/?q=1." in r.url) as suggested:
        to.press_sequentially("1.", delay=30)
        page.wait_for_function("document.querySelector('form[data-tag-suggest]').dataset.suggested === '1.'")
    assert suggested.value.status == 200
    assert page.locator("#tag-names option").evaluate_all("os => os.map(o => o.value)") == ["1.0"]
    shot(page, "24-anonymous-suggestions")


def test_tags_filter_as_one_types(page, listed):
    sign_in(page, then=f"/repositories/{PUBLIC_NS}/big/")
    page.get_by_label("Filter tags").press_sequentially("nothing", delay=20)
    page.wait_for_function("document.querySelector('#tag-status').textContent.startsWith('0 tags match')")
    assert "No tag matches" in page.locator("#tag-table").inner_text()
    page.get_by_label("Filter tags").fill("1")
    page.get_by_label("Filter tags").dispatch_event("input")
    page.wait_for_function("document.querySelectorAll('#tag-table tbody tr[data-tag]').length == 1")
    assert page.url.endswith("?q=1")
