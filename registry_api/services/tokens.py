"""A person's own access tokens: create, list, revoke (the portal's tokens page and the
management API's /api/v1/tokens/; staff see everyone's in the admin). The secret is made
and hashed by auth/credentials.py.

`within` is the credential the request came with, when that is itself an access token: what
it makes is at most as limited as itself (never wider in namespace or longer in life), and
what it sees and revokes stays inside its namespace. A read-only token makes nothing."""
from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from ..auth.credentials import Identity, access_token_create
from ..models import AccessToken, Namespace
from ..oci.errors import RegistryError

NAME_MAX = AccessToken._meta.get_field("name").max_length


class TokenInvalid(RegistryError):
    code = "DENIED"


class TokenBroader(RegistryError):
    """The token asked for would reach further than the token asking for it."""

    code = "DENIED"


class TokenNotFound(RegistryError):
    """No such token among the user's own: another's token does not exist for them."""

    code = "DENIED"


def _calling_token(within: Identity | None) -> AccessToken | None:
    if within is None or not within.credential.startswith("token:"):
        return None
    return AccessToken.objects.filter(pk=within.credential.removeprefix("token:")).first()


def _no_broader(within: Identity | None, namespace: str, expires_at: datetime | None) -> tuple[str, datetime | None]:
    """The namespace and expiry of a token made through `within`: its own when not given;
    a 403 when wider or later."""
    if within is None:
        return namespace, expires_at
    if within.read_only:
        raise TokenBroader("a read-only token may not create tokens")
    if within.namespace:
        if namespace and namespace != within.namespace:
            raise TokenBroader(f"a token limited to namespace {within.namespace} may only create tokens limited to it")
        namespace = within.namespace
    caller = _calling_token(within)
    if caller is not None and caller.expires_at is not None:
        if expires_at is not None and expires_at > caller.expires_at:
            raise TokenBroader("a token may not create a token that outlives it")
        expires_at = expires_at or caller.expires_at
    return namespace, expires_at


def token_create(
    *, user, name: str, read_only: bool = False, expires_at: datetime | None = None, namespace: str = "",
    within: Identity | None = None,
) -> tuple[AccessToken, str]:
    """A token of `user`'s, limited to `namespace` when given; the secret is returned once."""
    namespace, expires_at = _no_broader(within, namespace, expires_at)
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise TokenInvalid(f"a token needs a name of 1 to {NAME_MAX} characters")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenInvalid("the expiry date is in the past")
    limit = None
    if namespace:
        limit = Namespace.objects.filter(name=namespace).first()
        if limit is None:
            raise TokenInvalid(f"no namespace is called {namespace}")
    return access_token_create(user=user, name=name, read_only=read_only, expires_at=expires_at, namespace=limit)


def token_list(*, user, within: Identity | None = None) -> QuerySet:
    """The user's tokens, revoked ones included (they show what was revoked and when used)."""
    found = AccessToken.objects.filter(user=user)
    if within is not None and within.namespace:
        found = found.filter(namespace__name=within.namespace)
    return found.select_related("namespace", "user").order_by("revoked", "-created_at", "-pk")


def token_list_everyone() -> QuerySet:
    """Every user's tokens, for staff: by user, newest first."""
    return AccessToken.objects.select_related("namespace", "user").order_by("user__username", "-created_at", "-pk")


def token_revoke(*, user, token_id: int, within: Identity | None = None) -> AccessToken:
    """Revoke one of `user`'s tokens: every Bearer token it bought stops at once
    (auth/credentials.py checks the row on each request)."""
    token = token_list(user=user, within=within).filter(pk=token_id).first()
    if token is None:
        raise TokenNotFound("no such token")
    if not token.revoked:
        token.revoked = True
        token.save(update_fields=["revoked"])
    return token
