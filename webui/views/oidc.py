"""Sign in through the OpenID Connect provider (registry_api/auth/oidc.py): `oidc_login`
sends the browser there, `oidc_callback` takes it back. Whatever goes wrong on the way back
(a wrong or replayed state, a wrong nonce, an expired code, a refused account, the provider
unreachable) is an error page and no session, never a traceback."""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from registry_api.auth import oidc

logger = logging.getLogger(__name__)
NEXT_KEY = "oidc_next"
# Django's own backend, named in AUTHENTICATION_BACKENDS: it loads the session's user on
# later requests (no password is checked for a provider's sign-in).
SESSION_BACKEND = settings.AUTHENTICATION_BACKENDS[0]


def _safe_next(request: HttpRequest, value: str) -> str:
    ok = url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return value if value and ok else reverse(settings.LOGIN_REDIRECT_URL)


def _failed(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    request.session.pop(NEXT_KEY, None)
    return render(request, "webui/oidc_error.html", {
        "reason": reason, "provider": settings.REGISTRY_OIDC_PROVIDER_NAME}, status=status)


@require_GET
def oidc_login(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404("Single sign-on is not configured.")
    request.session[NEXT_KEY] = _safe_next(request, request.GET.get("next", ""))
    try:
        return oidc.authorization_redirect(request, request.build_absolute_uri(reverse("webui:oidc_callback")))
    except oidc.ProviderError as exc:
        logger.warning("OIDC provider unavailable: %s", exc)
        return _failed(request, "the sign-in provider cannot be reached; try again later", 502)


@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404("Single sign-on is not configured.")
    try:
        claims = oidc.verified_claims(request)
        user = oidc.user_for_claims(claims)
    except oidc.SignInRefused as exc:
        logger.info("OIDC sign-in refused: %s", exc)
        return _failed(request, str(exc), 403)
    except oidc.CallbackInvalid as exc:
        logger.info("OIDC callback rejected: %s", exc)
        return _failed(request, str(exc), 400)
    except oidc.ProviderError as exc:
        logger.warning("OIDC provider unavailable: %s", exc)
        return _failed(request, "the sign-in provider cannot be reached; try again later", 502)
    then = request.session.pop(NEXT_KEY, "")
    login(request, user, backend=SESSION_BACKEND)
    return redirect(_safe_next(request, then))
