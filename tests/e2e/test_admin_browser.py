"""The Django admin in Debian's Chromium (Playwright) against gunicorn with access control
on: signed in as the bootstrap `admin`, its index shows the registry's name and the
models grouped by task. The screenshot goes to test-artifacts/screenshots/admin-index.png."""
from __future__ import annotations

import pytest

from .conftest import ADMIN_PASSWORD
from .portal_browser import browser, page, session, shot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

SECTIONS = {
    "Images": ["Repositories", "Tags", "Manifests", "Blobs"],
    "Access": ["Users", "Groups", "Namespaces", "Grants", "Robot accounts", "Access tokens", "Login throttles"],
    "Housekeeping": ["Garbage collection", "Garbage collection runs", "Retention policies",
                     "Storage by namespace", "Uploads", "Backup leases"],
    "Proxy and groups": ["Proxy repositories", "Group repositories"],
    "Events": ["Audit events", "Webhooks", "Webhook deliveries"],
    "Replication": ["Remotes", "Rules", "Jobs", "Runs", "Artifacts"],
}


def test_admin_index_is_grouped_by_task(page):
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    shot(page, "admin-index")

    assert page.locator("#site-name").inner_text() == "Docker Registry Manager"
    assert page.get_by_role("link", name="View site").get_attribute("href") == "/"
    captions = page.locator("#content-main caption").all_text_contents()
    assert [c.strip() for c in captions] == list(SECTIONS)
    for title, models in SECTIONS.items():
        table = page.locator("#content-main table", has=page.locator("caption", has_text=title))
        listed = [name.strip() for name in table.locator("th[scope=row]").all_text_contents()]
        assert set(models) <= set(listed), (title, listed)

    page.get_by_role("link", name="View site").click()
    page.wait_for_url("**/")
    assert page.get_by_role("link", name="Docker Registry Manager").is_visible()
