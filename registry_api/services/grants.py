"""What a repository's admins change about it: the public flag, immutable tags and the
grants given on it (the portal's settings page and the management API; staff use the
Django admin for the same), and the grants staff give on a namespace.
Each change is audited by the signals in events/signals.py."""
from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from ..models import Grant, Namespace, Repository
from ..oci.errors import RegistryError


class GrantInvalid(RegistryError):
    code = "DENIED"


def repository_settings_update(*, repository: Repository, public: bool, immutable_tags: bool) -> None:
    repository.public, repository.immutable_tags = public, immutable_tags
    repository.save(update_fields=["public", "immutable_tags"])


def _place(repository: Repository | None, namespace: Namespace | None) -> dict:
    if (repository is None) == (namespace is None):
        raise GrantInvalid("a grant is on one namespace or one repository")
    return {"repository": repository} if repository is not None else {"namespace": namespace}


def grant_set(*, level: str, repository: Repository | None = None, namespace: Namespace | None = None, user=None,
              group: Group | None = None) -> Grant:
    """Give `user` or `group` exactly `level` on the repository or the namespace (replacing
    what that place's own grant said; grants elsewhere are not touched)."""
    if (user is None) == (group is None):
        raise GrantInvalid("a grant goes to one user or one group")
    if level not in Grant.Level.values:
        raise GrantInvalid(f"unknown level {level}")
    place = _place(repository, namespace)
    with transaction.atomic():
        grant = Grant.objects.select_for_update().filter(**place, user=user, group=group).first()
        if grant is None:
            return Grant.objects.create(**place, user=user, group=group, level=level)
        if grant.level != level:
            grant.level = level
            grant.save(update_fields=["level"])
        return grant


def grant_remove(*, grant_id: int, repository: Repository | None = None, namespace: Namespace | None = None) -> bool:
    """Remove one of the repository's (or the namespace's) own grants; False if it has no such grant."""
    grant = Grant.objects.filter(**_place(repository, namespace), pk=grant_id).first()
    if grant is None:
        return False
    grant.delete()  # one by one, so the audit trail sees it
    return True
