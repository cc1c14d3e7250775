"""A person's own access tokens: create, list, revoke (the portal's tokens page; staff see
everyone's in the admin). The secret is made and hashed by auth/credentials.py."""
from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from ..auth.credentials import access_token_create
from ..models import AccessToken, Namespace
from ..oci.errors import RegistryError

NAME_MAX = AccessToken._meta.get_field("name").max_length


class TokenInvalid(RegistryError):
    code = "DENIED"


class TokenNotFound(RegistryError):
    """No such token among the user's own: another's token does not exist for them."""

    code = "DENIED"


def token_create(
    *, user, name: str, read_only: bool = False, expires_at: datetime | None = None, namespace: str = "",
) -> tuple[AccessToken, str]:
    """A token of `user`'s, limited to `namespace` when given; the secret is returned once."""
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


def token_list(*, user) -> QuerySet:
    """The user's tokens, revoked ones included (they show what was revoked and when used)."""
    return AccessToken.objects.filter(user=user).select_related("namespace").order_by("revoked", "-created_at")


def token_revoke(*, user, token_id: int) -> AccessToken:
    """Revoke one of `user`'s tokens: every Bearer token it bought stops at once
    (auth/credentials.py checks the row on each request)."""
    token = AccessToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        raise TokenNotFound("no such token")
    if not token.revoked:
        token.revoked = True
        token.save(update_fields=["revoked"])
    return token
