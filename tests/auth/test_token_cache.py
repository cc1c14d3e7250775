"""Verified tokens are remembered per worker, but never beyond what verifying again would say."""
from __future__ import annotations

import pytest

from registry_api.auth import tokens
from registry_api.auth.scopes import Scope


def _issue() -> str:
    token, _ttl, _now = tokens.issue_access_token(
        subject="alice", service="svc", access=[Scope("repository", "team/app", frozenset({"pull"}))],
        credential="password:x",
    )
    return token


@pytest.fixture(autouse=True)
def _fresh_cache():
    tokens._verified.clear()
    yield
    tokens._verified.clear()


def test_a_verified_token_is_not_verified_again(monkeypatch):
    token = _issue()
    first = tokens.verify_token(token, service="svc")
    monkeypatch.setattr(tokens, "_decode", lambda *a: pytest.fail("decoded twice"))
    assert tokens.verify_token(token, service="svc") == first


def test_a_remembered_token_is_verified_again_once_it_has_expired(monkeypatch):
    """Past its expiry the token goes back to PyJWT, which refuses it."""
    token = _issue()
    claims = tokens.verify_token(token, service="svc")
    later = claims["exp"] + tokens.LEEWAY + 1
    monkeypatch.setattr(tokens.time, "time", lambda: later)

    def expired(*args):
        raise tokens.InvalidToken("Signature has expired")

    monkeypatch.setattr(tokens, "_decode", expired)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(token, service="svc")


def test_a_new_signing_key_stops_remembered_tokens(settings, tmp_path):
    token = _issue()
    tokens.verify_token(token, service="svc")
    (tmp_path / "token_key.pem").unlink()
    tokens.signing_key.cache_clear()  # as a restarted worker would
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(token, service="svc")


def test_another_service_or_kind_is_refused_even_when_remembered():
    token = _issue()
    tokens.verify_token(token, service="svc")
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(token, service="other")
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(token, service="svc", refresh=True)


def test_callers_cannot_change_what_is_remembered():
    token = _issue()
    tokens.verify_token(token, service="svc")["sub"] = "root"
    assert tokens.verify_token(token, service="svc")["sub"] == "alice"


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(tokens, "_VERIFIED_MAX", 3)
    for _ in range(5):
        tokens.verify_token(_issue(), service="svc")
    assert len(tokens._verified) == 3
