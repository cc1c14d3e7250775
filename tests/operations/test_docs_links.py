"""Every link between README.md and docs/*.md leads somewhere: the file exists and, when the
link names an anchor, a heading of that file produces it (GitHub's slugs)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked out."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "``", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lowercase, punctuation other than '-'
    and '_' dropped, spaces turned into '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors a page's headings produce; a repeated one gets -1, -2, … as on GitHub."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in page.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    return [target for line in _prose(page.read_text()) for target in _LINK.findall(line)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]  # http:, https:, mailto: are not checked


CASES = [(page, target) for page in PAGES for target in links(page)]


def test_pages_have_links():
    assert (ROOT / "docs" / "README.md") in PAGES
    assert len(CASES) > 40


@pytest.mark.parametrize("page,target", CASES, ids=[f"{p.relative_to(ROOT)}->{t}" for p, t in CASES])
def test_link_resolves(page, target):
    path, _, anchor = target.partition("#")
    destination = (page.parent / path).resolve() if path else page
    assert destination.exists(), f"{page.relative_to(ROOT)} links to {target}: no such file"
    if anchor:
        assert destination.suffix == ".md", f"{page.relative_to(ROOT)} links to an anchor in a non-Markdown file: {target}"
        assert anchor in anchors(destination), (
            f"{page.relative_to(ROOT)} links to {target}: no heading of {destination.relative_to(ROOT)} makes #{anchor}")


def test_slugs_follow_github():
    assert slug("Scale-out: several instances, PostgreSQL and S3") == "scale-out-several-instances-postgresql-and-s3"
    assert slug("`/api/`") == "api"
    assert slug("What is throttled") == "what-is-throttled"
    assert slug("Method of `make bench`") == "method-of-make-bench"
    assert slug("snake_case and dash-ed") == "snake_case-and-dash-ed"


def test_every_docs_page_is_in_the_index():
    index = {target.partition("#")[0] for target in links(ROOT / "docs" / "README.md")}
    missing = [page.name for page in PAGES[1:] if page.name != "README.md" and page.name not in index]
    assert not missing, f"docs/README.md does not link to {missing}"


def test_readme_stays_short():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= 300, f"README.md has {lines} lines; details belong in docs/"
