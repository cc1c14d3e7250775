"""A repository's settings page, for its admins (the admin level, or superusers): the public
flag, immutable tags and the grants given on the repository. Namespace grants are shown
for context; they are changed by staff in the Django admin."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from registry_api.auth.permissions import namespace_of
from registry_api.models import Grant
from registry_api.oci.errors import RegistryError
from registry_api.services.grants import grant_remove, grant_set, repository_settings_update

from ..access import repository_view
from ..forms import GrantForm, RepositorySettingsForm


def _post(request: HttpRequest, repository, settings_form, grant_form) -> bool:
    """Apply the submitted form; True when it worked (then the page redirects)."""
    action = request.POST.get("action")
    try:
        if action == "settings" and settings_form.is_valid():
            repository_settings_update(repository=repository, **settings_form.cleaned_data)
            messages.success(request, "Settings saved.")
            return True
        if action == "grant" and grant_form.is_valid():
            grant = grant_set(repository=repository, level=grant_form.cleaned_data["level"],
                              **grant_form.cleaned_data["who"])
            messages.success(request, f"{grant.user or grant.group} now has {grant.level} on {repository.name}.")
            return True
        if action == "revoke":
            if grant_remove(repository=repository, grant_id=int(request.POST.get("grant", "0") or 0)):
                messages.success(request, "Grant removed.")
            else:
                messages.error(request, "No such grant.")
            return True
    except (RegistryError, ValueError) as exc:
        messages.error(request, f"Could not change {repository.name}: {exc}.")
        return True
    return False


@require_http_methods(["GET", "POST"])
@repository_view("manage")
def repository_settings(request: HttpRequest, repository) -> HttpResponse:
    """GET the page; POST `action` = settings, grant or revoke (CSRF-checked)."""
    posted = request.POST if request.method == "POST" else None
    settings_form = RepositorySettingsForm(posted if posted and posted.get("action") == "settings" else None,
                                           instance=repository)
    grant_form = GrantForm(posted if posted and posted.get("action") == "grant" else None)
    if posted and _post(request, repository, settings_form, grant_form):
        return redirect("webui:repository_settings", name=repository.name)
    grants = Grant.objects.select_related("user", "group", "namespace")
    return render(request, "webui/settings.html", {
        "repository": repository, "settings_form": settings_form, "grant_form": grant_form,
        "grants": grants.filter(repository=repository).order_by("level", "pk"),
        "namespace_grants": grants.filter(namespace__name=namespace_of(repository.name)).order_by("level", "pk"),
    })
