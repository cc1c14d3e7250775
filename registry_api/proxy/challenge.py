"""`WWW-Authenticate` challenges of upstream registries, without Django.

Registries answer 401 with `Bearer realm="…",service="…",scope="…"` (the Docker token
protocol) or `Basic realm="…"`. Only those two schemes matter to the proxy; Bearer wins
when both are offered.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_SCHEME_RE = re.compile(r"\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*")
_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(,)?')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic", lowercased
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def _parse_one(value: str) -> list[Challenge]:
    """Challenges in one header value; a value may hold several, comma separated."""
    found: list[Challenge] = []
    pos = 0
    while pos < len(value):
        match = _SCHEME_RE.match(value, pos)
        if not match:
            break
        scheme, pos = match.group(1).lower(), match.end()
        params: dict[str, str] = {}
        while pos < len(value):
            param = _PARAM_RE.match(value, pos)
            if not param:
                break
            quoted, bare = param.group(2), param.group(3)
            params[param.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            pos = param.end()
            if not param.group(4):  # no comma: this challenge's parameters end here
                break
        found.append(Challenge(scheme, params))
        while pos < len(value) and value[pos] in ", ":
            pos += 1
    return found


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Every challenge in the (possibly repeated) header."""
    return [c for value in values for c in _parse_one(value)]


def preferred_challenge(values: list[str]) -> Challenge | None:
    """The Bearer challenge if there is one with a realm, else Basic, else None."""
    challenges = parse_challenges(values)
    for challenge in challenges:
        if challenge.scheme == "bearer" and challenge.realm:
            return challenge
    for challenge in challenges:
        if challenge.scheme == "basic":
            return challenge
    return None
