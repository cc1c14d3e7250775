"""The authentication backend (settings.AUTHENTICATION_BACKENDS): Django's user and password
check behind the failed-login throttle, with a short cache of verified passwords.

Every password check of the project goes through `django.contrib.auth.authenticate()` and
so through here: `docker login` and HTTP Basic on /v2/, /auth/token, /api/ and /api/v1/
(`credentials.authenticate`), the portal's sign-in, the Django admin's sign-in and its
password change (`admin_site.py`), and whatever else calls `authenticate()`. So they all
count against one set of counters (throttle.py), and a full counter is the same refusal
everywhere: `TooManyFailures` propagates out of `authenticate()` (Django only swallows
PermissionDenied), and `middleware.RegistryErrorMiddleware` answers it, 429
TOOMANYREQUESTS on the API, the "too many attempts" page (templates/429.html) on pages.
"""
from __future__ import annotations

import hmac
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from ..db.precompiled import Precompiled
from ..events import record
from .access import client_address
from .throttle import fingerprint, throttle_check, throttle_record_failure, throttle_record_success


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

# Every token request with a password starts with it (precompiled.py says why).
_USER = Precompiled(
    lambda username: get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username})[:1],
    "username",
)


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, client_addr=None, **kwargs):
        """The active user whose password this is, else None (Django then sends
        `user_login_failed`, which the audit trail records). TooManyFailures (429, with
        Retry-After) while a counter of this user or client is full, right password or not.

        `client_addr`: the caller's address when there is no request (/v2/, /auth/token
        pass theirs); else the request's.
        """
        username = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        if client_addr is None:
            client_addr = client_address(request) if request is not None else ""
        failed_before = throttle_check(username=username, client_addr=client_addr)
        user = self._verified_user(request, username, password)
        if user is None:
            throttle_record_failure(username=username, client_addr=client_addr, attempt=fingerprint(username, password))
            return None
        if failed_before:  # a write only then: Basic on /v2/ comes here with every request
            throttle_record_success(username=username, client_addr=client_addr)
        return user

    def _verified_user(self, request, username: str, password: str):
        """The user if the password is right; the success cache spares the slow hasher."""
        user = _USER.first(username=username)
        if user is not None and self.user_can_authenticate(user) and _verified.hit(_SuccessCache.key(user, password)):
            return user
        user = super().authenticate(request, username=username, password=password)
        if user is None:
            return None
        # After check_password, which may have upgraded the stored hash: key on the new one.
        _verified.put(_SuccessCache.key(user, password))
        record(action="login", actor=username, detail={"via": "password"})
        return user
