"""The management API for scripts (outside /v2/): `DELETE /api/repositories/<name>`.

Authenticated with HTTP Basic (a password or an access token, throttled as on /v2/) or
with the portal session (then CSRF-checked like any form). Errors use the registry's JSON
envelope: 401 (with a Basic challenge), 404 NAME_UNKNOWN (also for a repository the caller
may not pull: its existence is not revealed), 403 DENIED (deleting a whole repository
needs the admin level), 405 UNSUPPORTED.
"""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from registry_api.auth.access import Denied, basic_credentials, client_address
from registry_api.auth.credentials import ANONYMOUS, AuthenticationFailed, Identity, authenticate
from registry_api.auth.permissions import allowed_actions, is_repository_admin
from registry_api.edge.http import error_response
from registry_api.events.context import set_actor
from registry_api.oci.errors import NameUnknown, RegistryError, Unsupported
from registry_api.services.repositories import repository_delete

from ..access import may_delete_repository

CHALLENGE = {"WWW-Authenticate": 'Basic realm="Docker Registry Manager"'}


def _csrf_rejected(request: HttpRequest) -> bool:
    check = CsrfViewMiddleware(lambda r: None)
    check.process_request(request)
    return check.process_view(request, None, (), {}) is not None


def _identity(request: HttpRequest) -> Identity:
    """The caller from Basic credentials, else from the session; 401 when neither."""
    if request.META.get("HTTP_AUTHORIZATION"):
        try:
            credentials = basic_credentials(request)
            if credentials is None:
                raise AuthenticationFailed("send HTTP Basic credentials")
            identity = authenticate(username=credentials[0], password=credentials[1], client_addr=client_address(request))
        except AuthenticationFailed as exc:
            exc.headers = CHALLENGE
            raise
        set_actor(identity.subject, client_address(request))  # the audit trail names the script's user
        return identity
    if request.user.is_authenticated:
        if _csrf_rejected(request):
            raise Denied("CSRF check failed; send the X-CSRFToken header with the session")
        return Identity(request.user, "session")
    if not settings.REGISTRY_AUTH_ENABLED:
        return ANONYMOUS  # an open registry (dev boxes): as on /v2/, anyone may delete
    raise AuthenticationFailed("authentication required", headers=CHALLENGE)


@csrf_exempt  # Basic-authenticated scripts have no CSRF token; sessions are checked above
def repository(request: HttpRequest, name: str) -> HttpResponse:
    """DELETE: 200 {"deleted", "tags", "manifests"}; 401; 403; 404; 405."""
    try:
        if request.method != "DELETE":
            raise Unsupported(f"method {request.method} not allowed", headers={"Allow": "DELETE"})
        identity = _identity(request)
        actions = allowed_actions(identity, name)
        if "pull" not in actions:
            raise NameUnknown(detail={"name": name})
        if not may_delete_repository(actions):  # a whole repository: the admin level
            raise Denied(detail={"name": name, "action": "delete"})
        deleted = repository_delete(name=name, override_immutable=is_repository_admin(identity, name))
    except RegistryError as exc:
        return error_response([exc])
    return JsonResponse({"deleted": deleted.name, "tags": deleted.tags, "manifests": deleted.manifests})
