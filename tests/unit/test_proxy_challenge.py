"""Parsing upstream `WWW-Authenticate` challenges (registry_api/proxy/challenge.py)."""
from __future__ import annotations

import pytest

from registry_api.proxy.challenge import Challenge, parse_challenges, preferred_challenge

HUB = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'


@pytest.mark.parametrize(("values", "expected"), [
    ([HUB], [Challenge("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                                  "scope": "repository:library/alpine:pull"})]),
    (['Basic realm="Registry Realm"'], [Challenge("basic", {"realm": "Registry Realm"})]),
    (['basic realm=plain'], [Challenge("basic", {"realm": "plain"})]),
    (['Basic realm="a", Bearer realm="b",service=s'],
     [Challenge("basic", {"realm": "a"}), Challenge("bearer", {"realm": "b", "service": "s"})]),
    (['Bearer realm="q\\"uote",error="insufficient_scope"'],
     [Challenge("bearer", {"realm": 'q"uote', "error": "insufficient_scope"})]),
    (['Basic realm="x"', HUB], [Challenge("basic", {"realm": "x"}), parse_challenges([HUB])[0]]),
    ([""], []),
])
def test_parse(values, expected):
    assert parse_challenges(values) == expected


@pytest.mark.parametrize(("values", "scheme"), [
    (['Basic realm="x"', HUB], "bearer"),
    (['Basic realm="x"'], "basic"),
    (['Bearer service="no realm"'], None),
    (['Negotiate abc'], None),
    ([], None),
])
def test_preferred(values, scheme):
    chosen = preferred_challenge(values)
    assert (chosen.scheme if chosen else None) == scheme
