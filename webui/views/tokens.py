"""A signed-in person's own access tokens: the `docker login` password for people who sign in
through a directory (they have none of ours), and for CI. The secret is shown once, on the
page answering the POST that made it; only its hash is stored."""
from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from registry_api.services.tokens import TokenInvalid, TokenNotFound, token_create, token_list, token_revoke

from ..forms import TokenForm


@require_http_methods(["GET", "POST"])
@login_required
def token_page(request: HttpRequest) -> HttpResponse:
    """GET the list and the form; POST makes a token and shows its secret once."""
    form = TokenForm(request.POST if request.method == "POST" else None)
    created = secret = None
    if form.is_valid():
        data = form.cleaned_data
        days = data["expires_in"]
        try:
            created, secret = token_create(
                user=request.user, name=data["name"], read_only=data["read_only"], namespace=data["namespace"].strip(),
                expires_at=timezone.now() + timedelta(days=int(days)) if days else None,
            )
        except TokenInvalid as exc:
            form.add_error(None, str(exc))
        else:
            form = TokenForm()
    status = 400 if request.method == "POST" and created is None else 200
    return render(request, "webui/tokens.html", {
        "form": form, "tokens": token_list(user=request.user), "created": created, "secret": secret,
        "registry_host": request.get_host(),
    }, status=status)


@require_POST
@login_required
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = token_revoke(user=request.user, token_id=token_id)
    except TokenNotFound:
        raise Http404("No such token.") from None
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("webui:tokens")
