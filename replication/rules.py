"""A rule's filters, without Django: repository globs, the tag filter, the name rewrite.

Globs follow the shells' path rules: `*` and `?` stay within one path component,
`**` spans any number of them (`team/**` is everything below team). A tag filter is a
glob, or a regular expression between slashes (`/^v[0-9]+$/`) matched against the
whole tag.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from registry_api.oci.reference import InvalidReference, validate_name

MAX_REGEX = 200


class RuleInvalid(ValueError):
    """A glob, a tag filter or a prefix that cannot be used."""


def parse_globs(text: str) -> list[str]:
    globs = [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]
    if not globs:
        raise RuleInvalid("give at least one repository or glob")
    for glob in globs:
        if not re.fullmatch(r"[a-z0-9._/*?-]+", glob):
            raise RuleInvalid(f"repository glob {glob!r}: lowercase names, / and the wildcards * ? ** only")
    return globs


def _glob_regex(glob: str) -> re.Pattern:
    parts = []
    for piece in re.split(r"(\*\*/?|\*|\?)", glob):
        if piece in ("**", "**/"):
            parts.append(".*" if piece == "**" else "(?:.*/)?")
        elif piece == "*":
            parts.append("[^/]*")
        elif piece == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


def repository_matches(name: str, globs: list[str]) -> bool:
    return any(_glob_regex(glob).fullmatch(name) for glob in globs)


def is_literal(glob: str) -> bool:
    return not any(c in glob for c in "*?")


def tag_matcher(text: str) -> Callable[[str], bool]:
    """A predicate over tag names; RuleInvalid for a regex that does not compile."""
    text = text.strip()
    if not text:
        return lambda tag: True
    if len(text) > 1 and text.startswith("/") and text.endswith("/"):
        if len(text) > MAX_REGEX:
            raise RuleInvalid(f"tag regex longer than {MAX_REGEX} characters")
        try:
            pattern = re.compile(text[1:-1])
        except re.error as exc:
            raise RuleInvalid(f"tag regex: {exc}") from None
        return lambda tag: pattern.fullmatch(tag) is not None
    return lambda tag: fnmatch.fnmatchcase(tag, text)


def destination_name(source: str, prefix: str) -> str:
    """`team/app` with prefix `mirror` is `mirror/team/app`; RuleInvalid if not a valid name."""
    prefix = prefix.strip().strip("/")
    name = f"{prefix}/{source}" if prefix else source
    try:
        validate_name(name)
    except InvalidReference:
        raise RuleInvalid(f"{name!r} is not a valid repository name (destination prefix {prefix!r})") from None
    return name
