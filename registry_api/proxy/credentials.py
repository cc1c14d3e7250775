"""Upstream credentials of proxy namespaces: stored encrypted, or named in the environment.

Stored passwords are Fernet tokens under a key derived (HKDF-SHA256) from SECRET_KEY, so a
copy of the database alone does not reveal them; SECRET_KEY_FALLBACKS still decrypt after
a key rotation. A password may instead stay outside the database: `password_env` names an
environment variable, or NAME_FILE a file holding it (systemd credentials, Kubernetes).
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"docker-registry-manager proxy upstream credentials"


class CredentialsUnavailable(Exception):
    """The configured password cannot be read (SECRET_KEY changed, variable unset)."""


@dataclass(frozen=True)
class UpstreamCredentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never in a log or a traceback
        return f"UpstreamCredentials(username={self.username!r}, password=***)"


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _box() -> MultiFernet:
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(s) for s in secrets])


def password_encrypt(password: str) -> str:
    return _box().encrypt(password.encode()).decode()


def password_decrypt(token: str) -> str:
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnavailable(
            "the stored upstream password cannot be decrypted (SECRET_KEY changed?); enter it again in the admin"
        ) from None


def _from_environment(name: str) -> str:
    if name in os.environ:
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise CredentialsUnavailable(f"cannot read {name}_FILE: {exc.strerror}") from None
    raise CredentialsUnavailable(f"environment variable {name} (or {name}_FILE) is not set")


def credentials_for(*, username: str, password_encrypted: str, password_env: str) -> UpstreamCredentials | None:
    """The credentials to present upstream, or None to stay anonymous."""
    if not username:
        return None
    if password_env:
        return UpstreamCredentials(username, _from_environment(password_env))
    if password_encrypted:
        return UpstreamCredentials(username, password_decrypt(password_encrypted))
    return UpstreamCredentials(username, "")
