"""Signed Bearer tokens (JWT, ES256) as the Docker token specification describes them.

The signing key is REGISTRY_TOKEN_KEY (PEM, or REGISTRY_TOKEN_KEY_FILE) or, when unset, a
P-256 key generated into `<data dir>/token_key.pem` (mode 0600) on first use. Several
instances behind one name must share the key through the setting.
"""
from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from .scopes import Scope

ALGORITHM = "ES256"
# Clock skew tolerated between instances, in seconds.
LEEWAY = 30


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str


def _libtrust_kid(public_key) -> str:
    """The key id format of Docker's libtrust: base32 of a SHA-256 of the DER public key,
    cut to 48 characters in groups of four, so Distribution could verify our tokens too."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, 48, 4))


def _generated_key_pem(path: Path) -> bytes:
    if not path.exists():
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd, tmp = tempfile.mkstemp(dir=path.parent)  # mode 0600
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(tmp, path)  # first writer wins when workers start together
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_bytes()


@lru_cache(maxsize=1)
def signing_key() -> SigningKey:
    pem = settings.REGISTRY_TOKEN_KEY.encode() or _generated_key_pem(Path(settings.DATA_DIR) / "token_key.pem")
    private_key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise ValueError("REGISTRY_TOKEN_KEY must be an EC (P-256) private key")
    return SigningKey(private_key, _libtrust_kid(private_key.public_key()))


def _encode(claims: dict) -> str:
    key = signing_key()
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def issue_access_token(*, subject: str, service: str, access: list[Scope], credential: str) -> tuple[str, int, int]:
    """A short-lived token granting `access`; returns (token, expires_in, issued_at)."""
    now = int(time.time())
    ttl = settings.REGISTRY_TOKEN_TTL
    claims = {
        "iss": settings.REGISTRY_TOKEN_ISSUER,
        "sub": subject,
        "aud": service,
        "exp": now + ttl,
        "nbf": now - 1,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "access": [scope.claim() for scope in access],
        # Which credential the token came from, so revoking it takes effect at once.
        "cred": credential,
    }
    return _encode(claims), ttl, now


def issue_refresh_token(*, subject: str, service: str, credential: str) -> str:
    """A long-lived token that can only buy access tokens (OAuth2 `refresh_token` grant)."""
    now = int(time.time())
    claims = {
        "iss": settings.REGISTRY_TOKEN_ISSUER,
        "sub": subject,
        "aud": service,
        "exp": now + settings.REGISTRY_REFRESH_TOKEN_TTL,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "cred": credential,
        "refresh": True,
    }
    return _encode(claims)


def verify_token(token: str, *, service: str, refresh: bool = False) -> dict:
    """The claims of a token we signed for `service`; InvalidToken otherwise."""
    public_key = signing_key().private_key.public_key()
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=service,
            issuer=settings.REGISTRY_TOKEN_ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if bool(claims.get("refresh")) != refresh:
        raise InvalidToken("wrong kind of token")
    return claims
