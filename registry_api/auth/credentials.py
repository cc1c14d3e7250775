"""Who is calling: Django users' passwords and access tokens (failed passwords are throttled,
see throttle.py), and whether the credential behind a Bearer or refresh token still holds."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..errors import RegistryError
from ..events import record
from ..models import AccessToken
from ..precompiled import Precompiled
from .throttle import TooManyFailures  # noqa: F401  (raised by authenticate; callers catch it from here)
from .throttle import fingerprint as throttle_fingerprint
from .throttle import throttle_check, throttle_record_failure, throttle_record_success

TOKEN_PREFIX = "drm_"
# Writing last_used_at on every request would make every pull a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class AuthenticationFailed(RegistryError):
    code = "UNAUTHORIZED"


@dataclass(frozen=True)
class Identity:
    """The caller: a user (None when anonymous), the credential used, and its limits."""

    user: object | None
    # "anonymous", "password:<fingerprint>", "token:<id>", or "session" (the portal)
    credential: str = "anonymous"
    read_only: bool = False

    @property
    def is_anonymous(self) -> bool:
        return self.user is None

    @property
    def subject(self) -> str:
        return self.user.get_username() if self.user is not None else ""


ANONYMOUS = Identity(None)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def access_token_create(
    *, user, name: str, read_only: bool = False, expires_at: datetime | None = None
) -> tuple[AccessToken, str]:
    """Create a token; the secret is returned once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = AccessToken.objects.create(
        user=user, name=name, read_only=read_only, expires_at=expires_at,
        prefix=secret[: len(TOKEN_PREFIX) + 6], key_hash=token_hash(secret),
    )
    return token, secret


def _usable(token: AccessToken | None) -> bool:
    return (
        token is not None
        and not token.revoked
        and token.user.is_active
        and (token.expires_at is None or token.expires_at > timezone.now())
    )


def _touch(token: AccessToken) -> bool:
    """Record the token's use (at most once a minute); True when it was recorded."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return True
    return False


class _SuccessCache:
    """Recently verified passwords, keyed by an HMAC of the user, the password and the
    user's stored password hash.

    Django's password hash is deliberately slow (hundreds of ms); HTTP Basic sends the
    password with every request, so a verified pair is remembered for a minute. The key
    includes the stored hash, so a changed password misses at once in every worker.
    """

    def __init__(self, ttl: float = 60, capacity: int = 1024) -> None:
        self._ttl, self._capacity = ttl, capacity
        self._items: dict[bytes, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(user, password: str) -> bytes:
        message = f"{user.pk}\0{user.password}\0{password}".encode()
        return hmac.new(settings.SECRET_KEY.encode(), message, "sha256").digest()

    def hit(self, key: bytes) -> bool:
        with self._lock:
            expires = self._items.get(key)
        return expires is not None and expires > time.monotonic()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, key: bytes) -> None:
        with self._lock:
            if len(self._items) >= self._capacity:
                self._items.clear()
            self._items[key] = time.monotonic() + self._ttl


_verified = _SuccessCache()


def password_fingerprint(user) -> str:
    """What `cred` carries for a password login: an HMAC of the stored password hash (as
    Django's session auth hash), so every token bought with the password dies with it."""
    return salted_hmac("registry_api.auth.password-credential", user.password, algorithm="sha256").hexdigest()[:32]


def _password_identity(user) -> Identity:
    return Identity(user, f"password:{password_fingerprint(user)}")


def _token_identity(username: str, secret: str) -> Identity | None | bool:
    """The identity of an access token; None if it matches a token that may not be used
    (revoked, expired, another user's); False if it matches no token at all."""
    token = AccessToken.objects.select_related("user").filter(key_hash=token_hash(secret)).first()
    if token is None:
        return False
    if not _usable(token) or token.user.get_username() != username:
        record(action="login_failed", actor=username[:150], detail={"via": "access token"})
        return None
    if _touch(token):  # a login per minute of use, not one per request
        record(action="login", actor=username, detail={"via": "access token", "token": token.name})
    return Identity(token.user, f"token:{token.pk}", token.read_only)


# Every token request with a password starts with it (precompiled.py says why).
_USER = Precompiled(
    lambda username: get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username})[:1],
    "username",
)


def _check_password(username: str, password: str) -> Identity | None:
    """The user if the password is right; the success cache spares the slow hasher."""
    user = _USER.first(username=username)
    if user is not None and user.is_active and _verified.hit(_SuccessCache.key(user, password)):
        return _password_identity(user)
    user = django_authenticate(username=username, password=password)  # failures: audited by signal
    if user is None or not user.is_active:
        return None
    # After check_password, which may have upgraded the stored hash: key on the new one.
    _verified.put(_SuccessCache.key(user, password))
    record(action="login", actor=username, detail={"via": "password"})
    return _password_identity(user)


def authenticate(*, username: str, password: str, client_addr: str, tokens: bool = True) -> Identity:
    """Check a username with an access token or a password (as `docker login` sends them).

    Something shaped like a token is looked up as one first and, if no token has that
    secret, checked as a password (a real password may start with the prefix too). Only
    the password path is throttled (throttle.py says why); `tokens=False` skips tokens
    (the portal, where a read-only token must not open a full session).
    """
    if tokens and password.startswith(TOKEN_PREFIX):
        identity = _token_identity(username, password)
        if identity is None:
            raise AuthenticationFailed("invalid username, password or token")
        if identity:
            return identity
    failed_before = throttle_check(username=username, client_addr=client_addr)
    identity = _check_password(username, password)
    if identity is None:
        throttle_record_failure(
            username=username, client_addr=client_addr, attempt=throttle_fingerprint(username, password)
        )
        raise AuthenticationFailed("invalid username, password or token")
    if failed_before:  # a write only then: Basic on /v2/ comes here with every request
        throttle_record_success(username=username, client_addr=client_addr)
    return identity


_ACTIVE_USER = Precompiled(
    lambda username: get_user_model()._default_manager.filter(
        **{get_user_model().USERNAME_FIELD: username}, is_active=True)[:1],
    "username",
)


def identity_for_subject(subject: str, credential: str) -> Identity | None:
    """The identity a verified Bearer/refresh token speaks for, if its credential still holds."""
    if credential == "anonymous" or not subject:
        return ANONYMOUS
    if credential.startswith("token:"):
        token_id = credential.removeprefix("token:")
        if not token_id.isdigit():
            return None
        token = AccessToken.objects.select_related("user").filter(pk=int(token_id)).first()
        if not _usable(token) or token.user.get_username() != subject:
            return None
        _touch(token)
        return Identity(token.user, credential, token.read_only)
    if not credential.startswith("password:"):
        return None  # e.g. a bare "password" from before fingerprints: sign in again
    # No cache: the user row is read on every request (one precompiled query), so a
    # deactivated user or a changed password stops every token at once; comparing the
    # fingerprint costs one HMAC. A refresh token comes here too.
    user = _ACTIVE_USER.first(username=subject)
    if user is None or not hmac.compare_digest(credential, f"password:{password_fingerprint(user)}"):
        return None
    return Identity(user, credential)
