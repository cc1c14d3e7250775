"""The token signing key (generated 0600 in the data directory, or REGISTRY_TOKEN_KEY, which
is checked at startup) and the private files of the data directory."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core import checks

from registry_api.apps import check_auth_settings
from registry_api.auth import tokens
from registry_api.lib.files import create_private

from .conftest import basic, get_token

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def pem_of(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_key_is_generated_once_into_the_data_directory_readable_only_by_us(tmp_path):
    first = tokens.signing_key()
    path = tmp_path / "token_key.pem"
    assert mode(path) == 0o600
    tokens.signing_key.cache_clear()  # as a restarted worker would
    assert tokens.signing_key().kid == first.kid
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_registry_token_key_is_honoured(client, users, settings, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    settings.REGISTRY_TOKEN_KEY = pem_of(key)
    tokens.signing_key.cache_clear()
    token = get_token(client, "repository:team/app:pull", auth=basic("bob", "bob-pw"))["token"]
    claims = jwt.decode(token, key.public_key(), algorithms=["ES256"], audience="docker-registry-manager")
    assert claims["sub"] == "bob"
    assert not (tmp_path / "token_key.pem").exists()


BAD_KEYS = {
    "rsa": lambda: pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "ec-p384": lambda: pem_of(ec.generate_private_key(ec.SECP384R1())),
    "garbage": lambda: "not a key at all",
}


@pytest.mark.parametrize("kind", BAD_KEYS)  # made in the test: xdist workers must collect the same ids
def test_a_key_that_cannot_sign_es256_is_a_startup_error(settings, kind):
    settings.REGISTRY_TOKEN_KEY = BAD_KEYS[kind]()
    errors = [m for m in check_auth_settings() if m.level >= checks.ERROR]
    assert [e.id for e in errors] == ["registry_api.E004"]
    assert "BEGIN" not in errors[0].msg  # the key itself is never echoed


def test_a_p256_key_passes_the_check(settings):
    settings.REGISTRY_TOKEN_KEY = pem_of(ec.generate_private_key(ec.SECP256R1()))
    assert not [m for m in check_auth_settings() if m.level >= checks.ERROR]


def test_the_database_file_and_its_wal_are_private(tmp_path):
    path = create_private(tmp_path / "registry.sqlite3")
    assert mode(path) == 0o600
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()
    assert mode(tmp_path / "registry.sqlite3-wal") == 0o600
    db.close()
    path.chmod(0o640)
    create_private(path)  # an existing file is left as it is
    assert mode(path) == 0o640


def test_manage_py_refuses_to_start_with_a_bad_key(tmp_path):
    """`migrate` runs before every start (make run, the systemd unit, the container)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_") and k != "DATABASE_URL"}
    env.update(REGISTRY_DATA_DIR=str(tmp_path / "data"), REGISTRY_TOKEN_KEY=pem_of(
        rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "registry_api.E004" in result.stderr
    assert mode(tmp_path / "data") == 0o700 and mode(tmp_path / "data" / "registry.sqlite3") == 0o600
