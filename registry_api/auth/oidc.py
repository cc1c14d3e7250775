"""OpenID Connect sign-in for the portal and the admin: Authlib's client (authorization code
flow with PKCE, the provider's endpoints discovered from its issuer URL, state and nonce
checked), and the Django user an ID token's claims stand for.

OIDC is not a password path: nothing here checks a password, so the failed-login throttle
(backends.py) has nothing to count. People who sign in this way use access tokens for
`docker login`.
"""
from __future__ import annotations

import logging
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

logger = logging.getLogger(__name__)
CLIENT_NAME = "oidc"


class SignInRefused(Exception):
    """The provider vouched for someone who may not sign in here; the message says why."""


class CallbackInvalid(Exception):
    """The way back from the provider does not hold: wrong or replayed state, wrong nonce,
    a code the provider refuses (expired, used), an ID token that does not verify."""


class ProviderError(Exception):
    """The provider could not be reached, or answered with something that is not OIDC."""


def enabled() -> bool:
    return bool(settings.REGISTRY_OIDC_ISSUER)


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


@lru_cache(maxsize=1)
def _client(issuer: str, client_id: str, client_secret: str, scopes: str):
    # Imported here: Authlib pulls in requests, which nothing else at start-up needs.
    from authlib.integrations.django_client import OAuth

    oauth = OAuth()
    return oauth.register(
        CLIENT_NAME, client_id=client_id, client_secret=client_secret or None,
        server_metadata_url=discovery_url(issuer),
        client_kwargs={"scope": scopes, "code_challenge_method": "S256", "timeout": 10},
    )


def client():
    """The configured client; its discovery document is fetched at first use, then kept."""
    return _client(settings.REGISTRY_OIDC_ISSUER, settings.REGISTRY_OIDC_CLIENT_ID,
                   settings.REGISTRY_OIDC_CLIENT_SECRET, settings.REGISTRY_OIDC_SCOPES)


def authorization_redirect(request, redirect_uri: str):
    """The redirect to the provider, with state, nonce and the PKCE challenge kept in the session."""
    from requests import RequestException

    try:
        return client().authorize_redirect(request, redirect_uri)
    except (RequestException, ValueError, KeyError) as exc:
        raise ProviderError(type(exc).__name__) from None


def verified_claims(request) -> dict:
    """The claims of the ID token the provider sends back for this browser's sign-in: state
    (one use, this session's), code exchange with the PKCE verifier, the token's signature,
    issuer, audience, expiry and nonce, all checked by Authlib. The userinfo endpoint adds
    the claims an ID token may leave out (some providers send groups only there)."""
    from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
    from joserfc.errors import JoseError
    from requests import RequestException

    app = client()
    try:
        token = app.authorize_access_token(request)
    except MismatchingStateError:
        raise CallbackInvalid("this sign-in was not started here or was already used (state)") from None
    except OAuthError as exc:
        raise CallbackInvalid(f"the provider refused the sign-in ({exc.error or 'error'})") from None
    except JoseError as exc:
        raise CallbackInvalid(f"the ID token does not verify ({exc.error}: {exc.description or ''})") from None
    except (RequestException, ValueError, RuntimeError) as exc:
        raise ProviderError(type(exc).__name__) from None
    claims = dict(token.get("userinfo") or {})
    if not claims:
        raise CallbackInvalid("the provider sent no ID token")
    wanted = [settings.REGISTRY_OIDC_USERNAME_CLAIM, settings.REGISTRY_OIDC_GROUPS_CLAIM]
    if any(name and name not in claims for name in wanted):
        try:
            extra = app.userinfo(token=token)
        except (OAuthError, RequestException, ValueError):
            extra = {}
        if extra.get("sub") == claims.get("sub"):
            claims = {**extra, **claims}
    return claims


def _groups(claims: dict) -> list[str] | None:
    """The claimed groups (none when the claim is missing), or None when groups are not mirrored."""
    name = settings.REGISTRY_OIDC_GROUPS_CLAIM
    if not name:
        return None
    value = claims.get(name) or []
    values = value if isinstance(value, list) else [value]
    # Keycloak sends paths ("/team"); Django group names are at most 150 characters.
    return sorted({str(v).strip("/")[:150] for v in values if str(v).strip("/")})


def user_for_claims(claims: dict):
    """The user the verified claims name, created at first sign-in when allowed, with their
    groups, staff and superuser flags mirrored from the provider on every sign-in."""
    User = get_user_model()
    username = str(claims.get(settings.REGISTRY_OIDC_USERNAME_CLAIM) or "").strip()
    if not username or len(username) > User._meta.get_field(User.USERNAME_FIELD).max_length:
        raise SignInRefused(f"the provider sent no usable {settings.REGISTRY_OIDC_USERNAME_CLAIM} claim")
    groups = _groups(claims)
    with transaction.atomic():
        user = User._default_manager.select_for_update().filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            user = _new_user(User, username)
        elif user.has_usable_password() or hasattr(user, "robot_account"):
            # A local account (the bootstrap admin, a robot) is never taken over by a
            # provider that happens to use the same name; docs/oidc.md says how to hand one over.
            raise SignInRefused(f"{username} is a local account here, not one of the provider's")
        if not user.is_active:
            raise SignInRefused(f"the account {username} is disabled here")
        before = (user.email, user.is_staff, user.is_superuser)
        user.email = str(claims.get("email") or user.email)[:254]
        if groups is not None:
            user.is_staff = _flag(groups, settings.REGISTRY_OIDC_STAFF_GROUPS, user.is_staff)
            user.is_superuser = _flag(groups, settings.REGISTRY_OIDC_SUPERUSER_GROUPS, user.is_superuser)
            user.is_staff = user.is_staff or user.is_superuser
        if user.pk is None or (user.email, user.is_staff, user.is_superuser) != before:
            user.save()  # only a change: each save is an audited permission change
        if groups is not None:
            user.groups.set([Group.objects.get_or_create(name=name)[0] for name in groups])
    logger.info("OIDC sign-in of %s (groups: %s)", username, ", ".join(groups or []) or "-")
    return user


def _new_user(User, username: str):
    if not settings.REGISTRY_OIDC_CREATE_USERS:
        raise SignInRefused(f"there is no account {username} here, and accounts are not created at sign-in")
    user = User(**{User.USERNAME_FIELD: username})
    user.set_unusable_password()
    try:
        user.full_clean(exclude=["password"])
    except ValidationError:
        raise SignInRefused(f"{username!r} is not a valid user name here") from None
    return user


def _flag(groups: list[str], granting: list[str], current: bool) -> bool:
    """Set by the provider's groups when such groups are configured, else left as it was."""
    return bool(set(groups) & set(granting)) if granting else current
