"""Who is calling: Django users' passwords and access tokens (passwords are checked, and
failures throttled, by backends.py), and whether the credential behind a Bearer or refresh
token still holds."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..db.precompiled import Precompiled
from ..events import record
from ..models import AccessToken
from ..oci.errors import RegistryError

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
    # A namespace-limited access token: nothing outside `<namespace>/` (permissions.py).
    namespace: str = ""

    @property
    def is_anonymous(self) -> bool:
        return self.user is None

    @property
    def subject(self) -> str:
        return self.user.get_username() if self.user is not None else ""

    @property
    def may_refresh(self) -> bool:
        """Whether a refresh token may stand for this sign-in. Not for a directory password:
        the directory must keep confirming it (docker then stores the password, and each
        token request is checked at most REGISTRY_LDAP_CACHE_SECONDS late)."""
        if self.user is None:
            return False
        return not self.credential.startswith("password:") or self.user.has_usable_password()


ANONYMOUS = Identity(None)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def access_token_create(
    *, user, name: str, read_only: bool = False, expires_at: datetime | None = None, namespace=None,
) -> tuple[AccessToken, str]:
    """Create a token; the secret is returned once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = AccessToken.objects.create(
        user=user, name=name, read_only=read_only, expires_at=expires_at, namespace=namespace,
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


def _identity_of_token(token: AccessToken) -> Identity:
    return Identity(token.user, f"token:{token.pk}", token.read_only, token.namespace.name if token.namespace else "")


def password_fingerprint(user) -> str:
    """What `cred` carries for a password login: an HMAC of the stored password hash (as
    Django's session auth hash), so every token bought with the password dies with it."""
    return salted_hmac("registry_api.auth.password-credential", user.password, algorithm="sha256").hexdigest()[:32]


def _password_identity(user) -> Identity:
    return Identity(user, f"password:{password_fingerprint(user)}")


def _token_identity(username: str, secret: str) -> Identity | None | bool:
    """The identity of an access token; None if it matches a token that may not be used
    (revoked, expired, another user's); False if it matches no token at all."""
    token = AccessToken.objects.select_related("user", "namespace").filter(key_hash=token_hash(secret)).first()
    if token is None:
        return False
    if not _usable(token) or token.user.get_username() != username:
        record(action="login_failed", actor=username[:150], detail={"via": "access token"})
        return None
    if _touch(token):  # a login per minute of use, not one per request
        record(action="login", actor=username, detail={"via": "access token", "token": token.name})
    return _identity_of_token(token)


def bearer_identity(secret: str) -> Identity:
    """The identity of an access token sent alone (`Authorization: Bearer drm_…` on the
    management API): the token names its user. Not throttled, as tokens are not guessable
    (throttle.py says why)."""
    token = AccessToken.objects.select_related("user").filter(key_hash=token_hash(secret)).first()
    if not _usable(token):
        record(action="login_failed", actor=token.user.get_username() if token else "", detail={"via": "access token"})
        raise AuthenticationFailed("invalid or expired access token")
    return _token_identity(token.user.get_username(), secret)


def authenticate(*, username: str, password: str, client_addr: str) -> Identity:
    """Check a username with an access token or a password (as `docker login` sends them).

    Something shaped like a token is looked up as one first and, if no token has that
    secret, checked as a password (a real password may start with the prefix too). Only
    the password path is throttled (throttle.py says why). The portal and the admin sign
    in with Django's forms, which check passwords only (a read-only token must not open a
    full session).
    """
    if "\x00" in username or "\x00" in password:
        # No account can hold a NUL (PostgreSQL text refuses it): a plain refusal, not a 500.
        raise AuthenticationFailed("invalid username, password or token")
    if password.startswith(TOKEN_PREFIX):
        identity = _token_identity(username, password)
        if identity is None:
            raise AuthenticationFailed("invalid username, password or token")
        if identity:
            return identity
    # The throttled backend (backends.py): TooManyFailures when a counter is full.
    user = django_authenticate(username=username, password=password, client_addr=client_addr)
    if user is None:
        raise AuthenticationFailed("invalid username, password or token")
    return _password_identity(user)


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
        token = AccessToken.objects.select_related("user", "namespace").filter(pk=int(token_id)).first()
        if not _usable(token) or token.user.get_username() != subject:
            return None
        _touch(token)
        return _identity_of_token(token)
    if not credential.startswith("password:"):
        return None  # e.g. a bare "password" from before fingerprints: sign in again
    # No cache: the user row is read on every request (one precompiled query), so a
    # deactivated user or a changed password stops every token at once; comparing the
    # fingerprint costs one HMAC. A refresh token comes here too.
    user = _ACTIVE_USER.first(username=subject)
    if user is None or not hmac.compare_digest(credential, f"password:{password_fingerprint(user)}"):
        return None
    return Identity(user, credential)
