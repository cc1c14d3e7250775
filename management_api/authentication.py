"""Who calls the management API: an access token (`Authorization: Bearer drm_…`), HTTP
Basic (user with a token or a password, through the one throttled backend), or the
portal's session (CSRF-checked). Each returns `(user, Identity)`, so `request.auth` is the
Identity the registry's permission functions take.

A bad credential is always 401, never anonymous: a script that meant to sign in must not
quietly see only public data.
"""
from __future__ import annotations

from rest_framework import authentication, exceptions

from registry_api.auth.access import basic_credentials, client_address
from registry_api.auth.credentials import AuthenticationFailed, Identity, authenticate, bearer_identity
from registry_api.events.context import set_actor

# Both schemes, in one header (RFC 9110 allows several challenges).
CHALLENGE = 'Bearer realm="Docker Registry Manager API", Basic realm="Docker Registry Manager API"'


def _signed_in(request, identity: Identity) -> tuple[object, Identity]:
    set_actor(identity.subject, client_address(request._request))  # the audit trail names the script's user
    return identity.user, identity


class AccessTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            return _signed_in(request, bearer_identity(value.strip()))
        except AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(exc.message) from None

    def authenticate_header(self, request) -> str:
        return CHALLENGE


class BasicAuthentication(authentication.BaseAuthentication):
    """Checked by `credentials.authenticate`, as `docker login` is: a full failed-login
    counter is TooManyFailures (429 with Retry-After), right password or not."""

    def authenticate(self, request):
        try:
            credentials = basic_credentials(request._request)
            if credentials is None:
                return None
            identity = authenticate(username=credentials[0], password=credentials[1],
                                    client_addr=client_address(request._request))
        except AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(exc.message) from None
        return _signed_in(request, identity)

    def authenticate_header(self, request) -> str:
        return CHALLENGE


class PortalSessionAuthentication(authentication.SessionAuthentication):
    """The portal's own scripts: its session cookie, with the X-CSRFToken header on writes."""

    def authenticate(self, request):
        found = super().authenticate(request)
        if found is None:
            return None
        return found[0], Identity(found[0], "session")
