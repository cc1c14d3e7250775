"""What the caller may see and do, asked of `registry_api.auth.permissions` (the rules the
portal, the admin and /v2/ use), and turned into the API's answers: a repository or
namespace the caller may not see is 404 whether or not it exists; one they see but may not
change is 403."""
from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied

from registry_api.auth.credentials import ANONYMOUS, Identity
from registry_api.auth.permissions import (
    MANAGE, allowed_actions, is_namespace_admin, is_staff, may_delete, may_delete_repository,
)
from registry_api.models import Namespace, Repository
from registry_api.oci.reference import InvalidReference, validate_name
from registry_api.services.repositories import repository_find


def identity_of(request) -> Identity:
    return request.auth if isinstance(request.auth, Identity) else ANONYMOUS


def require_staff(request) -> Identity:
    identity = identity_of(request)
    if not is_staff(identity):
        raise PermissionDenied("only staff may do this")
    return identity


def staff_get(request, queryset: QuerySet, missing: str, **lookup):
    """The row staff asked for by `lookup`; 403 for others, 404 (saying `missing`) if none."""
    require_staff(request)
    found = queryset.filter(**lookup).first()
    if found is None:
        raise NotFound(missing)
    return found


def repository_for(request, name: str, action: str = "pull") -> Repository:
    """The repository `name` if the caller may pull it, else 404; then 403 unless they may
    do `action`: "pull", "delete" (tags, manifests), "delete-repository" or "manage".
    An anonymous caller (in views open to them, `PublicRead`) gets 401 instead of the 404:
    signing in may show it."""
    try:
        validate_name(name)
    except InvalidReference:
        raise NotFound("no such repository") from None
    identity = identity_of(request)
    actions = allowed_actions(identity, name)
    if "pull" not in actions and identity.is_anonymous and settings.REGISTRY_AUTH_ENABLED:
        raise NotAuthenticated()
    repository = repository_find(name=name) if "pull" in actions else None
    if repository is None:
        raise NotFound("no such repository")
    allowed = {"pull": True, "delete": may_delete(actions), "delete-repository": may_delete_repository(actions),
               "manage": MANAGE in actions}
    if not allowed[action]:
        raise PermissionDenied(f"you may not {action.replace('-', ' ')} in repository {name}")
    return repository


def namespace_for(request, name: str) -> Namespace:
    """A namespace its admins (and staff) may read; 404 for everyone else."""
    namespace = Namespace.objects.filter(name=name).first()
    if namespace is None or not is_namespace_admin(identity_of(request), name):
        raise NotFound("no such namespace")
    return namespace
