"""What an identity may do on a repository: superuser, public flags, and grants.

Grants name a namespace (the first path component) or one repository, for a user or a
group; levels are cumulative. Read-only tokens cut everything down to pull; a token limited
to a namespace has nothing outside it (`within_limit`), whatever its user may do there.

Besides the token actions (pull, push, delete), the `admin` level holds MANAGE: deleting
the whole repository (portal, `DELETE /api/v1/repositories/…`) and its settings page in the
portal (public flag, immutable tags, the grants given on it). MANAGE never goes into a
token: no /v2/ request needs it.
"""
from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet

from ..models import Grant, Namespace, Repository
from ..oci.reference import InvalidReference, validate_name
from ..services import routing
from .credentials import Identity
from .scopes import REPOSITORY_ACTIONS, Scope

MANAGE = "admin"
EVERYTHING = frozenset({*REPOSITORY_ACTIONS, MANAGE})
LEVEL_ACTIONS = {
    "pull": frozenset({"pull"}),
    "push": frozenset({"pull", "push"}),
    "delete": frozenset({"pull", "push", "delete"}),
    "admin": EVERYTHING,
}


def namespace_of(repository_name: str) -> str:
    return repository_name.split("/", 1)[0]


def within_limit(identity: Identity, repository_name: str) -> bool:
    """False when a namespace-limited token asks about a name outside its namespace."""
    return not identity.namespace or namespace_of(repository_name) == identity.namespace


def _grants_for(user) -> QuerySet:
    return Grant.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))


def _is_public(repository_name: str) -> bool:
    return (
        settings.REGISTRY_ANONYMOUS_PULL
        or Namespace.objects.filter(name=namespace_of(repository_name), public=True).exists()
        or Repository.objects.filter(name=repository_name, public=True).exists()
    )


def allowed_actions(identity: Identity, repository_name: str) -> frozenset[str]:
    """The repository actions (pull, push, delete, and MANAGE) the identity holds on `repository_name`.

    Pull is judged on the repository a pull of the name reads (services/routing.py: a mirror
    name on its proxy cache, a group on the group); push and delete only exist where the
    name is hosted. Proxies and groups are read-only for everyone.
    """
    if not within_limit(identity, repository_name):
        return frozenset()
    read = routing.permission_target(repository_name)
    write = routing.permission_target(repository_name, write=True)
    if read is None:
        return frozenset()
    pull = _granted(identity, read.local_name)
    actions = pull & {"pull"}
    if write is not None and not write.read_only:
        actions |= (pull if write.local_name == read.local_name else _granted(identity, write.local_name)) - {"pull"}
    return actions


def _granted(identity: Identity, repository_name: str) -> frozenset[str]:
    """What superuser status, public flags and grants give on exactly this name."""
    user = identity.user
    if not within_limit(identity, repository_name):  # a mirror or group name reading elsewhere
        return frozenset()
    if not settings.REGISTRY_AUTH_ENABLED or (user is not None and user.is_superuser):
        actions = EVERYTHING
    else:
        actions = frozenset({"pull"}) if _is_public(repository_name) else frozenset()
        if user is not None:
            levels = _grants_for(user).filter(
                Q(namespace__name=namespace_of(repository_name)) | Q(repository__name=repository_name)
            ).values_list("level", flat=True)
            for level in levels:
                actions |= LEVEL_ACTIONS[level]
    if identity.read_only:
        actions &= {"pull"}
    return actions


def _superuser(identity: Identity) -> bool:
    user = identity.user
    return not settings.REGISTRY_AUTH_ENABLED or (user is not None and user.is_superuser)


def is_staff(identity: Identity) -> bool:
    """A superuser (or anyone while access control is off): what may create namespaces,
    robots and retention policies anywhere, as in the Django admin. Never through a token
    limited to one namespace: it reaches nothing registry-wide."""
    return _superuser(identity) and (not identity.namespace or not settings.REGISTRY_AUTH_ENABLED)


def _holds_admin(identity: Identity, where: Q) -> bool:
    """Callers check `within_limit` first."""
    if _superuser(identity):
        return True
    if identity.user is None or identity.read_only:
        return False
    return _grants_for(identity.user).filter(where, level=Grant.Level.ADMIN).exists()


def is_repository_admin(identity: Identity, repository_name: str) -> bool:
    """A superuser, or granted "admin" on the repository or its namespace (what may, for
    example, delete an immutable tag in the portal)."""
    return within_limit(identity, repository_name) and _holds_admin(
        identity, Q(namespace__name=namespace_of(repository_name)) | Q(repository__name=repository_name),
    )


def is_namespace_admin(identity: Identity, namespace: str) -> bool:
    """A superuser, or granted "admin" on the whole namespace (its usage, its retention)."""
    return within_limit(identity, namespace) and _holds_admin(identity, Q(namespace__name=namespace))


def administered_namespaces(identity: Identity) -> QuerySet:
    """The namespaces `is_namespace_admin` holds for, as one query (for lists)."""
    candidates = Namespace.objects.all()
    if identity.namespace:
        candidates = candidates.filter(name=identity.namespace)
    if _superuser(identity):
        return candidates
    if identity.user is None or identity.read_only:
        return Namespace.objects.none()
    granted = _grants_for(identity.user).filter(level=Grant.Level.ADMIN, namespace__isnull=False)
    return candidates.filter(pk__in=granted.values("namespace_id"))


def may_delete(actions: frozenset[str]) -> bool:
    """Tags and manifests: the "delete" action, and deletes enabled (REGISTRY_DELETE_ENABLED)."""
    return settings.REGISTRY_DELETE_ENABLED and "delete" in actions


def may_delete_repository(actions: frozenset[str]) -> bool:
    """A whole repository: deletes allowed and MANAGE (the admin level)."""
    return may_delete(actions) and MANAGE in actions


def visible_repositories(identity: Identity) -> QuerySet:
    """Repositories the identity may pull, for the catalog and the portal."""
    user = identity.user
    everything = Repository.objects.all()
    if identity.namespace:
        everything = everything.filter(name__startswith=f"{identity.namespace}/")
    if not settings.REGISTRY_AUTH_ENABLED or settings.REGISTRY_ANONYMOUS_PULL:
        return everything
    if user is not None and user.is_superuser:
        return everything
    namespaces = set(Namespace.objects.filter(public=True).values_list("name", flat=True))
    condition = Q(public=True)
    if user is not None:
        grants = _grants_for(user)
        namespaces |= set(grants.filter(namespace__isnull=False).values_list("namespace__name", flat=True))
        condition |= Q(pk__in=grants.filter(repository__isnull=False).values("repository_id"))
    for name in sorted(namespaces):  # a stable SQL text: the dashboard caches by it (selectors/dashboard.py)
        condition |= Q(name=name) | Q(name__startswith=f"{name}/")
    return everything.filter(condition)


def grant_scopes(identity: Identity, requested: list[Scope]) -> list[Scope]:
    """The intersection of what was asked and what is allowed; asking for more is no error."""
    granted = []
    for scope in requested:
        if scope.type == "registry" and scope.name == "catalog" and "*" in scope.actions:
            # Everyone may list; the catalog shows each caller only what they may pull.
            granted.append(Scope("registry", "catalog", frozenset({"*"})))
        elif scope.type == "repository":
            try:
                validate_name(scope.name)
            except InvalidReference:
                continue
            actions = scope.actions & allowed_actions(identity, scope.name) & frozenset(REPOSITORY_ACTIONS)
            if actions:
                granted.append(Scope("repository", scope.name, actions))
    return granted

