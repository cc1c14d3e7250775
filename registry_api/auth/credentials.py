"""Who is calling: Django users' passwords and access tokens, with failed logins throttled."""
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
from django.db import transaction
from django.utils import timezone

from ..errors import RegistryError
from ..events import record
from ..models import AccessToken, LoginThrottle

TOKEN_PREFIX = "drm_"
# Writing last_used_at on every request would make every pull a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class AuthenticationFailed(RegistryError):
    code = "UNAUTHORIZED"


class TooManyFailures(RegistryError):
    code = "TOOMANYREQUESTS"


@dataclass(frozen=True)
class Identity:
    """The caller: a user (None when anonymous), the credential used, and its limits."""

    user: object | None
    credential: str = "anonymous"  # "anonymous", "password" or "token:<id>"
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
    """Recently verified passwords, keyed by an HMAC of the credentials.

    Django's password hash is deliberately slow (hundreds of ms); HTTP Basic sends the
    password with every request, so a verified pair is remembered for a minute.
    """

    def __init__(self, ttl: float = 60, capacity: int = 1024) -> None:
        self._ttl, self._capacity = ttl, capacity
        self._items: dict[bytes, tuple[float, int]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(username: str, password: str) -> bytes:
        return hmac.new(settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), "sha256").digest()

    def get(self, key: bytes) -> int | None:
        with self._lock:
            item = self._items.get(key)
        if item and item[0] > time.monotonic():
            return item[1]
        return None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, key: bytes, user_id: int) -> None:
        with self._lock:
            if len(self._items) >= self._capacity:
                self._items.clear()
            self._items[key] = (time.monotonic() + self._ttl, user_id)


_verified = _SuccessCache()


def _throttle_keys(username: str, client_addr: str) -> list[str]:
    return [f"user:{username.lower()}"[:200], f"addr:{client_addr}"[:200]]


def _is_throttled(keys: list[str]) -> bool:
    since = timezone.now() - timedelta(seconds=settings.REGISTRY_LOGIN_WINDOW)
    return LoginThrottle.objects.filter(
        key__in=keys, failures__gte=settings.REGISTRY_LOGIN_MAX_FAILURES, window_started_at__gte=since
    ).exists()


def _record_failure(keys: list[str]) -> None:
    now = timezone.now()
    window = timedelta(seconds=settings.REGISTRY_LOGIN_WINDOW)
    with transaction.atomic():
        for key in keys:
            row, created = LoginThrottle.objects.select_for_update().get_or_create(
                key=key, defaults={"failures": 1, "window_started_at": now}
            )
            if created:
                continue
            if now - row.window_started_at > window:
                row.failures, row.window_started_at = 1, now
            else:
                row.failures += 1
            row.save(update_fields=["failures", "window_started_at"])


def _check_token(username: str, secret: str) -> Identity | None:
    token = AccessToken.objects.select_related("user").filter(key_hash=token_hash(secret)).first()
    if not _usable(token) or token.user.get_username() != username:
        record(action="login_failed", actor=username[:150], detail={"via": "access token"})
        return None
    if _touch(token):  # a login per minute of use, not one per request
        record(action="login", actor=username, detail={"via": "access token", "token": token.name})
    return Identity(token.user, f"token:{token.pk}", token.read_only)


def _check_password(username: str, password: str) -> Identity | None:
    key = _SuccessCache.key(username, password)
    user_id = _verified.get(key)
    if user_id is not None:
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is not None:
            return Identity(user, "password")
    user = django_authenticate(username=username, password=password)  # failures: audited by signal
    if user is None or not user.is_active:
        return None
    _verified.put(key, user.pk)
    record(action="login", actor=username, detail={"via": "password"})
    return Identity(user, "password")


def authenticate(*, username: str, password: str, client_addr: str) -> Identity:
    """Check a username with a password or an access token (as `docker login` sends them)."""
    keys = _throttle_keys(username, client_addr)
    if _is_throttled(keys):
        raise TooManyFailures(
            "too many failed logins; try again later",
            headers={"Retry-After": str(settings.REGISTRY_LOGIN_WINDOW)},
        )
    if password.startswith(TOKEN_PREFIX):
        identity = _check_token(username, password)
    else:
        identity = _check_password(username, password)
    if identity is None:
        _record_failure(keys)
        raise AuthenticationFailed("invalid username, password or token")
    return identity


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
    user = get_user_model().objects.filter(username=subject, is_active=True).first()
    return Identity(user, credential) if user is not None else None
