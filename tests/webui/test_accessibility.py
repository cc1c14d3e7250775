"""Accessibility of every portal page, from the HTML the server sends: each form control
has a label, there is a skip link to the main content, copy buttons say what they copy,
charts have a text alternative, and live regions exist for what changes under the reader.
(The browser tests check keyboard use; see tests/e2e/test_portal_keyboard.py.)"""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests import builders
from tests.api.support import Registry

from .conftest import Content

pytestmark = pytest.mark.django_db
CONTROLS = {"input", "select", "textarea"}
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class Page(HTMLParser):
    """The elements of a page with their attributes, and the text inside each label/button."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.label_for: set[str] = set()
        self.wrapped: set[int] = set()  # controls inside a <label>
        self.button_text: dict[int, str] = {}
        self._open_labels = 0
        self._button: int | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        index = len(self.elements) - 1
        if tag == "label":
            self._open_labels += 1
            if attributes.get("for"):
                self.label_for.add(attributes["for"])
        elif tag in CONTROLS and self._open_labels:
            self.wrapped.add(index)
        elif tag == "button":
            self._button, self.button_text[index] = index, ""

    def handle_endtag(self, tag):
        if tag == "label":
            self._open_labels -= 1
        elif tag == "button":
            self._button = None

    def handle_data(self, data):
        if self._button is not None:
            self.button_text[self._button] += data

    def unlabelled(self) -> list[str]:
        ids = {a.get("id") for _, a in self.elements}
        problems = []
        for index, (tag, a) in enumerate(self.elements):
            if tag not in CONTROLS or a.get("type") in UNLABELLED_TYPES:
                continue
            labelled = (a.get("id") in self.label_for or index in self.wrapped or a.get("aria-label")
                        or (a.get("aria-labelledby") and all(i in ids for i in a["aria-labelledby"].split())))
            if not labelled:
                problems.append(f"<{tag} name={a.get('name')!r} id={a.get('id')!r}>")
        for index, text in self.button_text.items():
            if not text.strip() and not self.elements[index][1].get("aria-label"):
                problems.append(f"button without a name: {self.elements[index][1]}")
        return problems

    def find(self, tag: str, **wanted) -> list[dict]:
        return [a for t, a in self.elements if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in wanted.items())]


def _pages(content: Content) -> list[str]:
    return [
        "/", "/repositories/", "/repositories/?q=app", "/repositories/team/app/", "/repositories/team/multi/",
        f"/repositories/team/app/manifests/{content.v2.manifest.digest}/",
        f"/repositories/team/multi/manifests/{content.index.digest}/",
        "/repositories/team/app/-/compare/?a=v1&b=v2", "/repositories/team/multi/-/compare/?a=amd64&b=latest",
        "/repositories/team/app/-/tags/v1/delete/", "/repositories/team/app/-/delete/",
        f"/repositories/team/multi/manifests/{content.arm64.manifest.digest}/delete/", "/tokens/",
    ]


def _get(client, path: str) -> Page:
    response = client.get(path)
    assert response.status_code == 200, path
    return Page(response.content.decode())


def test_every_form_control_has_a_label(as_person, content: Content):
    client = as_person("root")
    problems = {path: _get(client, path).unlabelled() for path in _pages(content)}
    problems["/login/"] = _get(as_person("anonymous"), "/login/").unlabelled()
    assert {path: found for path, found in problems.items() if found} == {}


def test_every_page_has_a_skip_link_to_its_main_content(as_person, content: Content):
    client = as_person("reader")
    for path in _pages(content)[:9]:
        page = _get(client, path)
        skip = page.elements[[t for t, _ in page.elements].index("body") + 1]
        assert skip == ("a", {"class": "skip-link", "href": "#main"}), path
        assert page.find("main", id="main"), path


def test_copy_buttons_say_what_they_copy(client, settings, as_person, content: Content):
    signature = builders.image("sig", layer_count=1, subject=content.v1.manifest, artifact_type="application/x.sig")
    settings.REGISTRY_AUTH_ENABLED = False
    Registry(client).push_image("team/app", signature.manifest.digest, signature)
    settings.REGISTRY_AUTH_ENABLED = True
    reader = as_person("reader")
    seen = 0
    for path in _pages(content)[:9]:
        for button in _get(reader, path).find("button", type="button"):
            if "data-copy" in button or "data-copy-from" in button:
                seen += 1
                assert button.get("aria-label", "").startswith("Copy "), (path, button)
    assert seen > 20


def test_charts_have_a_text_alternative(as_person, content: Content):
    page = as_person("root").get("/").content.decode()
    storage = page.split('id="storage-chart"', 1)[1].split("</table>", 1)[0]
    for namespace in ("team", "pub", "secret"):
        assert f'<th scope="row">{namespace}</th>' in storage  # a real table: namespace, then its size
    pushes = page.split('id="push-chart"', 1)[1].split("</ol>", 1)[0]
    hidden = pushes.count('<span class="visually-hidden">')
    assert hidden == 14 and "manifests pushed</span>" in pushes
    assert 'aria-labelledby="storage-chart-title"' in page and 'aria-labelledby="push-chart-title"' in page


def test_live_regions_stay_outside_what_the_script_replaces(as_person, content: Content):
    """The script refills #results and #tag-results; the counts that screen readers announce
    are live regions beside them, so they are updated in place, never replaced."""
    client = as_person("reader")
    for path, results, status in (("/repositories/", "results", "results-status"),
                                  ("/repositories/team/app/", "tag-results", "tag-status")):
        html = client.get(path).content.decode()
        page = Page(html)
        assert page.find("p", id=status, role="status", aria_live="polite"), path
        container = html.split(f'<div id="{results}">', 1)[1]
        assert f'id="{status}"' not in container, path
        form = page.find("form", data_live_search=f"#{results}")
        assert form and form[0]["data-live-status"] == f"#{status}", path
    assert Page(client.get("/").content.decode()).find("div", id="announcer", aria_live="polite")
