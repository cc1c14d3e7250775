"""Signed Bearer tokens (JWT, ES256) as the Docker token specification describes them.

The signing key is REGISTRY_TOKEN_KEY (PEM, or REGISTRY_TOKEN_KEY_FILE) or, when unset, a
P-256 key generated into `<data dir>/token_key.pem` (mode 0600) on first use. Several
instances behind one name must share the key through the setting.
"""
from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from ..lib.files import write_once
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


def _new_key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key in `pem` (ES256 needs that curve); ValueError with the reason
    otherwise. The system check (apps.py) calls it at startup, so a bad key stops `migrate`
    rather than failing the first token request."""
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:  # not PEM, encrypted, or unsupported
        raise ValueError(f"not an unencrypted PEM private key ({exc})") from None
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or private_key.curve.name != "secp256r1":
        raise ValueError("not an EC P-256 key (ES256 tokens need one)")
    return private_key


@lru_cache(maxsize=1)
def signing_key() -> SigningKey:
    pem = settings.REGISTRY_TOKEN_KEY.encode() or write_once(Path(settings.DATA_DIR) / "token_key.pem", _new_key_pem)
    private_key = load_key(pem)
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


# Checking an ES256 signature costs about 0.14 ms, and a client sends the same token with
# every request of a pull: a worker remembers the tokens it verified (bounded, oldest out)
# until they expire. The key includes the signing key and issuer, so a new key or issuer
# stops every remembered token at once.
_VERIFIED_MAX = 1024
_verified: OrderedDict[tuple, dict] = OrderedDict()
_verified_lock = threading.Lock()


def _decode(token: str, service: str) -> dict:
    public_key = signing_key().private_key.public_key()
    try:
        return jwt.decode(
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


def verify_token(token: str, *, service: str, refresh: bool = False) -> dict:
    """The claims of a token we signed for `service`; InvalidToken otherwise."""
    key = (signing_key().kid, settings.REGISTRY_TOKEN_ISSUER, service, token)
    with _verified_lock:
        claims = _verified.get(key)
    if claims is None or time.time() > claims["exp"] + LEEWAY:
        claims = _decode(token, service)
        with _verified_lock:
            _verified[key] = claims
            while len(_verified) > _VERIFIED_MAX:
                _verified.popitem(last=False)
    if bool(claims.get("refresh")) != refresh:
        raise InvalidToken("wrong kind of token")
    return dict(claims)
