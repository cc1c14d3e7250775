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

With REGISTRY_LDAP_URI set, names that are not local accounts are checked against the
directory (auth/directory/): a user it created, or a name unknown here. A yes is cached for
REGISTRY_LDAP_CACHE_SECONDS, so a CI fleet pulling all day binds once a minute per worker;
a wrong password repeated at once is not sent again; DirectoryUnavailable (503) propagates
like TooManyFailures and is not counted as a failure.
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
from .directory import directory_authenticate, directory_enabled, is_local_account
from .throttle import (
    fingerprint, throttle_check, throttle_forget_binds, throttle_is_repeat, throttle_record_failure,
    throttle_record_success,
)


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

    def put(self, key: bytes, ttl: float | None = None) -> None:
        with self._lock:
            if len(self._items) >= self._capacity:
                self._items.clear()
            self._items[key] = time.monotonic() + (self._ttl if ttl is None else ttl)


_verified = _SuccessCache()
# Directory passwords the directory confirmed; REGISTRY_LDAP_CACHE_SECONDS each (read at
# every put, so it is how long a user removed from the directory keeps signing in).
_directory_verified = _SuccessCache()

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
        if "\0" in username:
            return None  # no account has one; and PostgreSQL refuses NUL in a query
        account = _USER.first(username=username)
        directory = directory_enabled() and (account is None or not is_local_account(account))
        failed_before = throttle_check(username=username, client_addr=client_addr, directory=directory)
        attempt = fingerprint(username, password)
        if directory:
            user = self._directory_user(request, username, password, client_addr, attempt, account)
        else:
            user = self._verified_user(request, username, password, account)
        if user is None:
            throttle_record_failure(username=username, client_addr=client_addr, attempt=attempt, directory=directory)
            return None
        if failed_before:  # a write only then: Basic on /v2/ comes here with every request
            throttle_record_success(username=username, client_addr=client_addr)
        return user

    def _verified_user(self, request, username: str, password: str, user):
        """The user if the password is right; the success cache spares the slow hasher."""
        if user is not None and self.user_can_authenticate(user) and _verified.hit(_SuccessCache.key(user, password)):
            return user
        user = super().authenticate(request, username=username, password=password)
        if user is None:
            return None
        # After check_password, which may have upgraded the stored hash: key on the new one.
        _verified.put(_SuccessCache.key(user, password))
        record(action="login", actor=username, detail={"via": "password"})
        return user

    def _directory_user(self, request, username: str, password: str, client_addr: str, attempt: str, account):
        """The user if the directory says the password is right, or said so within
        REGISTRY_LDAP_CACHE_SECONDS. DirectoryUnavailable when it cannot be asked."""
        name = username.strip().lower()  # as django-auth-ldap names its users
        user = account if account is not None and account.get_username() == name else _USER.first(username=name)
        if user is not None and self.user_can_authenticate(user) and _directory_verified.hit(_SuccessCache.key(user, password)):
            return user
        if throttle_is_repeat(username=username, client_addr=client_addr, attempt=attempt):
            return None  # the directory said no a moment ago; asking again counts against the user there
        user = directory_authenticate(request, username, password)
        if user is None:
            return None
        throttle_forget_binds(username=username)
        if not self.user_can_authenticate(user):
            return None
        _directory_verified.put(_SuccessCache.key(user, password), ttl=settings.REGISTRY_LDAP_CACHE_SECONDS)
        record(action="login", actor=user.get_username(), detail={"via": "directory"})
        return user
