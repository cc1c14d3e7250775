"""Authorization of /v2/ requests: who the caller is and whether they may do this.

Called once per request by `views.common.endpoint`. A caller without the right is told to
authenticate (401 with a Bearer challenge naming the scope) when a token with more rights
could help, and DENIED (403) when they are known and simply not allowed. Neither answer
depends on whether the repository exists.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpRequest

from ..oci.errors import RegistryError
from .credentials import ANONYMOUS, AuthenticationFailed, Identity, authenticate, identity_for_subject
from .permissions import allowed_actions
from .scopes import Scope
from .tokens import InvalidToken, verify_token

CATALOG = ("registry", "catalog")


class Denied(RegistryError):
    code = "DENIED"


@dataclass
class RequestAccess:
    identity: Identity
    # Set when the caller presented a Bearer token: what the token grants, by (type, name).
    token_grants: dict[tuple[str, str], frozenset[str]] | None = None
    _cache: dict = field(default_factory=dict)


def challenge(request: HttpRequest, scope: str | None = None, error: str | None = None) -> RegistryError:
    realm = settings.REGISTRY_AUTH_REALM or request.build_absolute_uri("/auth/token")
    value = f'Bearer realm="{realm}",service="{settings.REGISTRY_TOKEN_SERVICE}"'
    if scope:
        value += f',scope="{scope}"'
    if error:
        value += f',error="{error}"'
    return RegistryError(code="UNAUTHORIZED", headers={"WWW-Authenticate": value})


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    """(user, password) from `Authorization: Basic`; None without such a header.

    A Basic header that does not decode is AuthenticationFailed, never anonymous: a client
    that meant to sign in must not silently get an anonymous token instead.
    """
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed("malformed Basic credentials")
    return username, password


def bearer_access(token: str) -> RequestAccess | None:
    """What a Bearer token lets its holder do; None when it is not ours, has expired, or
    speaks for a credential that no longer holds."""
    try:
        claims = verify_token(token.strip(), service=settings.REGISTRY_TOKEN_SERVICE)
    except InvalidToken:
        return None
    identity = identity_for_subject(claims.get("sub", ""), claims.get("cred", ""))
    if identity is None:
        return None
    grants = {}
    for entry in claims.get("access") or []:
        if isinstance(entry, dict) and isinstance(entry.get("actions"), list):
            key = (str(entry.get("type")), str(entry.get("name")))
            grants[key] = grants.get(key, frozenset()) | frozenset(map(str, entry["actions"]))
    return RequestAccess(identity, grants)


def resolve(request: HttpRequest) -> RequestAccess:
    """Authenticate the request's credentials; bad credentials are a 401, never anonymous."""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer":
        access = bearer_access(value)
        if access is None:
            raise challenge(request, error="invalid_token")
        return access
    if scheme.lower() == "basic" and settings.REGISTRY_AUTH_BASIC:
        try:
            username, password = basic_credentials(request)
            identity = authenticate(username=username, password=password, client_addr=client_address(request))
        except AuthenticationFailed:
            raise challenge(request) from None
        return RequestAccess(identity)
    return RequestAccess(ANONYMOUS)


def _allowed(access: RequestAccess, name: str) -> frozenset[str]:
    key = ("repository", name)
    if key not in access._cache:
        access._cache[key] = allowed_actions(access.identity, name)
    return access._cache[key]


def has_access(access: RequestAccess, name: str, action: str, effective: str | None = None) -> bool:
    """Whether the request may do `action` on repository `name` (no error raised).

    `effective`: the repository the request really reads when that depends on more than
    the name: a `?ns=` pull lands in a proxy, while the client (containerd) asked its token
    for the bare name. Then the token only says who is asking, and that identity's rights
    on the proxy decide; a token granted for the bare name never opens the hosted one.
    """
    if not settings.REGISTRY_AUTH_ENABLED:
        return True
    if effective is not None:
        return action in _allowed(access, effective)
    if access.token_grants is not None:
        return action in access.token_grants.get(("repository", name), frozenset())
    return action in _allowed(access, name)


def _scope_for(name: str, action: str) -> str:
    actions = "pull,push" if action == "push" else action
    return str(Scope("repository", name, frozenset(actions.split(","))))


def require(request: HttpRequest, access: RequestAccess, name: str, action: str, effective: str | None = None) -> None:
    """Raise 401/403 unless the request may do `action` on repository `name` (and `effective`)."""
    if has_access(access, name, action, effective):
        return
    identity = access.identity
    if identity.is_anonymous:
        raise challenge(request, _scope_for(name, action))
    if access.token_grants is not None and action in allowed_actions(identity, effective or name):
        # The user may, but this token was not asked for it: a new token will do.
        raise challenge(request, _scope_for(name, action), error="insufficient_scope")
    raise Denied(detail={"name": name, "action": action})


def require_signed_in(request: HttpRequest, access: RequestAccess) -> None:
    """GET /v2/: callers without credentials are challenged whenever access control is on.

    Even with anonymous pull: `docker login`, `skopeo login` and `podman login` take a 200
    here as "Login Succeeded" without ever sending the password, so a wrong one would look
    right. As with Distribution and Harbor, anonymous clients follow the challenge to the
    token endpoint, get an anonymous token and come back with it (200), then pull.
    """
    if not signed_in(access):
        raise challenge(request)


def signed_in(access: RequestAccess) -> bool:
    """Whether GET /v2/ answers the caller 200 (require_signed_in): access control off,
    credentials, or a token (an anonymous one too)."""
    return not (settings.REGISTRY_AUTH_ENABLED and access.identity.is_anonymous and access.token_grants is None)


def require_catalog(request: HttpRequest, access: RequestAccess) -> None:
    if not settings.REGISTRY_AUTH_ENABLED:
        return
    if access.token_grants is not None:
        if "*" not in access.token_grants.get(CATALOG, frozenset()):
            raise challenge(request, "registry:catalog:*", error="insufficient_scope")
    elif access.identity.is_anonymous and not settings.REGISTRY_ANONYMOUS_PULL:
        raise challenge(request, "registry:catalog:*")
