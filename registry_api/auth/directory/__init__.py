"""Directory sign-in (LDAP, Active Directory) through django-auth-ldap, behind the one
throttled backend (auth/backends.py decides who goes to the directory and caches its yes).

django-auth-ldap's backend is not in AUTHENTICATION_BACKENDS: called only from
backends.py, every directory password check goes through the throttle. Two changes to
its behaviour:

- a directory that cannot be reached (or refuses the service account) is
  `DirectoryUnavailable` (503), never a wrong password: django-auth-ldap logs and swallows
  LDAP errors, and reports them on its `ldap_error` signal, whose receiver here raises;
- a local account (one with a password of its own, or a robot) is never taken over by a
  directory entry of the same name.

python-ldap's calls block the whole gevent worker while they wait (it is C, not patched
sockets): a few milliseconds for a bind, which the cache in backends.py makes rare, but up
to REGISTRY_LDAP_TIMEOUT against a directory that does not answer. So once the directory
has failed, this process answers "unavailable" for HOLD_OFF_SECONDS without asking it.
"""
from __future__ import annotations

import logging
import time

from django_auth_ldap.backend import LDAPBackend, LDAPSettings, _LDAPUser, ldap_error

from ...models import RobotAccount
from ...oci.errors import RegistryError
from .config import directory_enabled, ldap_settings

__all__ = ["DirectoryUnavailable", "directory_authenticate", "directory_enabled", "is_local_account"]

logger = logging.getLogger(__name__)

HOLD_OFF_SECONDS = 15
_unavailable_until = 0.0  # time.monotonic() before which the directory is not asked


class DirectoryUnavailable(RegistryError):
    """503 UNAVAILABLE on the API, the "directory unavailable" page on the portal and admin."""

    code = "UNAVAILABLE"
    default_message = "directory unavailable; try again later"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": str(HOLD_OFF_SECONDS)})


def is_local_account(user) -> bool:
    """Signs in with its own password (the bootstrap admin, people added in the admin) or
    only with access tokens (robots): never checked against the directory."""
    return user.has_usable_password() or RobotAccount.objects.filter(user=user).exists()


class DirectoryBackend(LDAPBackend):
    @property
    def settings(self):
        if self._settings is None:
            self._settings = LDAPSettings("AUTH_LDAP_", ldap_settings())
        return self._settings

    def get_or_build_user(self, username, ldap_user):
        user, built = super().get_or_build_user(username, ldap_user)
        if not built and is_local_account(user):
            logger.warning("directory entry %r matches local account %r; not signed in", username, user.get_username())
            raise _LDAPUser.AuthenticationFailed("a local account has this name")
        return user, built


def _unavailable(sender, context, exception, **kwargs):
    global _unavailable_until
    description = exception.args[0].get("desc", "") if exception.args and isinstance(exception.args[0], dict) else ""
    logger.warning("directory unavailable (%s): %s %s; not asked again for %d s",
                   context, type(exception).__name__, description, HOLD_OFF_SECONDS)
    _unavailable_until = time.monotonic() + HOLD_OFF_SECONDS
    raise DirectoryUnavailable()


ldap_error.connect(_unavailable, sender=DirectoryBackend, dispatch_uid="registry_api.directory_unavailable")


def directory_authenticate(request, username: str, password: str):
    """The user the directory knows by this name and password, created or updated (names,
    email, groups, staff and superuser flags), or None; DirectoryUnavailable when it cannot
    be asked. One bind with the user's password, never retried."""
    if time.monotonic() < _unavailable_until:
        raise DirectoryUnavailable()
    return DirectoryBackend().authenticate(request, username=username, password=password)


def directory_hold_off_clear() -> None:
    """Ask the directory again at the next sign-in (tests, after restarting it)."""
    global _unavailable_until
    _unavailable_until = 0.0
