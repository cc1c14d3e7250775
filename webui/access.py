"""Who is looking at the portal and what they may do, using the registry's own rules
(`registry_api.auth.permissions`), so a page shows exactly what `docker pull` would allow.

A repository the visitor may not pull does not exist for them: signed-in visitors get a
404 whether or not it exists, anonymous ones are sent to sign in. Deleting tags and
manifests needs the "delete" action and deletes to be enabled (REGISTRY_DELETE_ENABLED),
as on /v2/; deleting the whole repository and its settings page need MANAGE (the admin
level, `registry_api.auth.permissions`).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from registry_api.auth.credentials import ANONYMOUS, Identity
from registry_api.auth.permissions import MANAGE, allowed_actions, may_delete, may_delete_repository
from registry_api.auth.permissions import visible_repositories
from registry_api.oci.errors import NameUnknown
from registry_api.services.repositories import repository_get


def identity_of(request: HttpRequest) -> Identity:
    return Identity(request.user, "session") if request.user.is_authenticated else ANONYMOUS


def visible(request: HttpRequest) -> QuerySet:
    """The repositories the visitor may pull."""
    return visible_repositories(identity_of(request))


def repository_view(action: str = "pull") -> Callable:
    """Check the visitor's rights on the repository in the URL before the view runs, then
    call it with the Repository. `action` is "pull", "delete" (tags, manifests),
    "delete-repository" or "manage"; `request.can_delete`, `can_delete_repository` and
    `can_manage` tell templates what to offer."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, name: str, **kwargs) -> HttpResponse:
            actions = allowed_actions(identity_of(request), name)
            if "pull" not in actions:
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                raise Http404("No such repository.")
            request.can_delete = may_delete(actions)
            request.can_delete_repository = may_delete_repository(actions)
            request.can_manage = MANAGE in actions
            allowed = {"pull": True, "delete": request.can_delete,
                       "delete-repository": request.can_delete_repository, "manage": request.can_manage}
            if not allowed[action]:
                raise PermissionDenied("You may not do this in this repository.")
            try:
                repository = repository_get(name=name)
            except NameUnknown:
                raise Http404("No such repository.") from None
            return view(request, repository, **kwargs)

        return wrapper

    return decorate
