"""Upstream credentials at rest (encrypted with a key from SECRET_KEY, or in the
environment), the proxy system checks, and the proxy counter on /metrics."""
from __future__ import annotations

import pytest

from registry_api.apps import check_proxy_settings
from registry_api.proxy.credentials import (
    CredentialsUnavailable, credentials_for, password_decrypt, password_encrypt,
)


def test_a_password_round_trips_and_is_not_stored_in_clear(settings):
    token = password_encrypt("hunter2")
    assert "hunter2" not in token and password_decrypt(token) == "hunter2"
    assert password_encrypt("hunter2") != token  # a fresh IV every time


def test_a_rotated_secret_key_still_decrypts_through_the_fallbacks(settings):
    token = password_encrypt("hunter2")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the new key"
    assert password_decrypt(token) == "hunter2"
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(CredentialsUnavailable, match="cannot be decrypted"):
        password_decrypt(token)


def test_credentials_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_PW", "from-env")
    assert credentials_for(username="u", password_encrypted="", password_env="HUB_PW").password == "from-env"
    (tmp_path / "pw").write_text("from-file\n")
    monkeypatch.delenv("HUB_PW")
    monkeypatch.setenv("HUB_PW_FILE", str(tmp_path / "pw"))
    creds = credentials_for(username="u", password_encrypted="", password_env="HUB_PW")
    assert creds.password == "from-file" and "from-file" not in repr(creds)
    assert credentials_for(username="", password_encrypted="", password_env="HUB_PW") is None


@pytest.mark.parametrize(("overrides", "ids"), [
    ({}, []),
    ({"REGISTRY_PROXY_FETCH_STALE": 5}, ["registry_api.E006"]),
    ({"REGISTRY_MIRROR_PROXY": "Not/A/Name"}, ["registry_api.E007"]),
    ({"REGISTRY_MIRROR_NS": {"docker.io": "bad name"}}, ["registry_api.E007"]),
    ({"REGISTRY_MIRROR_UNHOSTED": True}, ["registry_api.W002"]),
])
def test_system_checks(settings, overrides, ids):
    for key, value in overrides.items():
        setattr(settings, key, value)
    assert [m.id for m in check_proxy_settings()] == ids


def test_metrics_count_outcomes(client, hub, alpine):
    client.get("/v2/hub/alpine/manifests/3.20")
    client.get("/v2/hub/alpine/manifests/3.20")
    text = client.get("/metrics").content.decode()
    assert 'registry_proxy_requests_total{kind="manifest",outcome="miss",proxy="hub"}' in text
    assert 'registry_proxy_requests_total{kind="manifest",outcome="hit",proxy="hub"}' in text
