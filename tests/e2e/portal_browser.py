"""What the portal's browser tests share: Debian's Chromium driven by Playwright (never a
downloaded browser), a page that refuses and records any request to another host, the
screenshots CI keeps (test-artifacts/screenshots/), and pushes with skopeo.

Without Chromium or Playwright the tests are skipped, or fail when the environment says
the tools must be there (REGISTRY_E2E_REQUIRE_TOOLS=1, as .ci/run sets it): a CI machine
that lost its browser must not pass by skipping every portal test.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import builders

from .conftest import ADMIN_PASSWORD, REPO_ROOT
from .support import skopeo_push, unavailable

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
# Chromium as Debian ships it, told not to reach anything but the page under test.
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def tool_missing(reason: str) -> None:
    """Skip, or fail when REGISTRY_E2E_REQUIRE_TOOLS is set (tests/e2e/support.py)."""
    unavailable(f"{reason} (.ci/run installs it)")


def launch(playwright_module=None, chromium: Path = CHROMIUM):
    """A context manager yielding a launched browser (or skipping/failing without one)."""
    if not chromium.exists():
        tool_missing(f"{chromium} is not installed")
    if playwright_module is None:
        try:
            import playwright.sync_api as playwright_module
        except ImportError:
            tool_missing("the playwright Python package is not installed")
    return _Browser(playwright_module, chromium)


class _Browser:
    def __init__(self, module, chromium: Path) -> None:
        self._module, self._chromium = module, chromium

    def __enter__(self):
        self._playwright = self._module.sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=str(self._chromium), args=CHROMIUM_ARGS)
        return self._browser

    def __exit__(self, *exc) -> None:
        self._browser.close()
        self._playwright.stop()


class Session:
    """One browser context on the registry: its page, and what it must never do."""

    def __init__(self, browser, registry, viewport: dict = DESKTOP) -> None:
        self.context = browser.new_context(base_url=registry.base_url, viewport=viewport)
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=registry.base_url)
        self.context.set_default_timeout(10_000)
        # Anything asked of another host would be a CDN, a font or an icon: refused and recorded.
        self.outside: list[str] = []
        self.context.route(re.compile(r"^(?!http://127\.0\.0\.1:\d+/).*"),
                           lambda route: (self.outside.append(route.request.url), route.abort()))
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def close(self) -> None:
        self.context.close()
        assert not self.outside, f"the page fetched from outside: {self.outside}"
        assert not self.errors, f"JavaScript errors: {self.errors}"


@pytest.fixture(scope="module")
def browser():
    with launch() as launched:
        yield launched


@pytest.fixture
def session(browser, secured_registry):
    opened = Session(browser, secured_registry)
    yield opened
    opened.close()


@pytest.fixture
def page(session):
    return session.page


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def push(registry, tmp_path: Path, name: str, tag: str, image: builders.Image) -> None:
    layout = builders.image_layout(tmp_path / f"layout-{name.replace('/', '-')}-{tag}", tag, image)
    skopeo_push(f"oci:{layout}:{tag}", f"docker://{registry.host}/{name}:{tag}", "--dest-creds", f"admin:{ADMIN_PASSWORD}")


def push_index(registry, tmp_path: Path, name: str, tag: str, images: list[builders.Image]) -> builders.Blob:
    """An index of `images` with all its images, as `skopeo copy --all` pushes it."""
    layout, index = builders.index_layout(tmp_path / f"index-{name.replace('/', '-')}-{tag}", tag, images)
    skopeo_push(f"oci:{layout}:{tag}", f"docker://{registry.host}/{name}:{tag}", "--all",
                "--dest-creds", f"admin:{ADMIN_PASSWORD}")
    return index


def sign_in(page, user: str = "admin", password: str = ADMIN_PASSWORD, then: str = "/") -> None:
    page.goto(f"/login/?next={then}")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{then}")


def horizontally_visible(page, locator) -> tuple[bool, dict]:
    """Whether the element lies within the viewport's width (not clipped by a scrolling
    table, not off the right edge) and the page itself does not scroll sideways."""
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    page_fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    inside = box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    clip = locator.evaluate("""node => {
        for (let up = node.parentElement; up; up = up.parentElement) {
            const style = getComputedStyle(up);
            if (style.overflowX !== "visible") {
                const outer = up.getBoundingClientRect(), own = node.getBoundingClientRect();
                if (own.left < outer.left - 0.5 || own.right > outer.right + 0.5) return true;
            }
        }
        return false;
    }""")
    return inside and page_fits and not clip, {"box": box, "viewport": width, "page_fits": page_fits, "clipped": clip}
