"""The token endpoint (`/auth/token`) of the Docker token protocol.

GET with optional HTTP Basic credentials (docker, skopeo, podman), and the OAuth2 POST form
(`grant_type=password` / `refresh_token`) that containerd and newer clients use.
"""
from __future__ import annotations

from datetime import datetime, timezone

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ..auth.access import basic_credentials, client_address
from ..auth.credentials import ANONYMOUS, AuthenticationFailed, Identity, authenticate, identity_for_subject
from ..auth.permissions import grant_scopes
from ..auth.scopes import parse_scopes
from ..auth.tokens import InvalidToken, issue_access_token, issue_refresh_token, verify_token
from ..oci.errors import Unsupported


def _rfc3339(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_service(service: str | None) -> str:
    if service not in (None, "", settings.REGISTRY_TOKEN_SERVICE):
        # A value we do not serve, not a refusal of access: Distribution's token server
        # answers such form values with UNSUPPORTED_VALUE (400); ours is UNSUPPORTED, 400.
        raise Unsupported("unknown service", status=400, detail={"service": service[:100]})
    return settings.REGISTRY_TOKEN_SERVICE


def _failed(message: str) -> AuthenticationFailed:
    return AuthenticationFailed(message, headers={"WWW-Authenticate": 'Basic realm="Docker Registry Manager"'})


def _issue(identity: Identity, scope_values: list[str], offline: bool) -> dict:
    granted = grant_scopes(identity, parse_scopes(scope_values))
    service = settings.REGISTRY_TOKEN_SERVICE
    token, ttl, issued = issue_access_token(
        subject=identity.subject, service=service, access=granted, credential=identity.credential
    )
    body = {
        "token": token,
        "access_token": token,
        "expires_in": ttl,
        "issued_at": _rfc3339(issued),
        "scope": " ".join(str(s) for s in granted),
    }
    if offline and identity.may_refresh:
        body["refresh_token"] = issue_refresh_token(
            subject=identity.subject, service=service, credential=identity.credential
        )
    return body


def _get(request: HttpRequest) -> JsonResponse:
    """200 with a token for the granted part of the scopes; 401 bad credentials; 429 throttled."""
    _check_service(request.GET.get("service"))
    identity = ANONYMOUS
    try:
        credentials = basic_credentials(request)
        if credentials is not None:
            identity = authenticate(
                username=credentials[0], password=credentials[1], client_addr=client_address(request)
            )
    except AuthenticationFailed as exc:
        raise _failed(exc.message) from None
    offline = request.GET.get("offline_token", "").lower() == "true"
    return JsonResponse(_issue(identity, request.GET.getlist("scope"), offline))


def _post(request: HttpRequest) -> JsonResponse:
    """The OAuth2 form: 200 with access_token; 400 unsupported grant; 401 bad credentials."""
    form = request.POST
    _check_service(form.get("service"))
    grant_type = form.get("grant_type", "")
    if grant_type == "password":
        try:
            identity = authenticate(
                username=form.get("username", ""), password=form.get("password", ""),
                client_addr=client_address(request),
            )
        except AuthenticationFailed as exc:
            raise _failed(exc.message) from None
    elif grant_type == "refresh_token":
        try:
            claims = verify_token(form.get("refresh_token", ""), service=settings.REGISTRY_TOKEN_SERVICE, refresh=True)
        except InvalidToken:
            raise _failed("invalid refresh token") from None
        identity = identity_for_subject(claims.get("sub", ""), claims.get("cred", ""))
        if identity is None or identity.is_anonymous:
            raise _failed("the credential behind this refresh token is no longer valid")
    else:
        raise Unsupported("unsupported grant_type", status=400)
    offline = form.get("access_type") == "offline"
    body = _issue(identity, form.getlist("scope"), offline)
    if grant_type == "refresh_token":
        body["refresh_token"] = form["refresh_token"]
    return JsonResponse(body)


@csrf_exempt
def token(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return _get(request)
    if request.method == "POST":
        return _post(request)
    raise Unsupported(headers={"Allow": "GET, POST"})
