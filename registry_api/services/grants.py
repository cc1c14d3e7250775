"""What a repository's admins change about it: the public flag, immutable tags and the
grants given on it (the portal's settings page; staff use the Django admin for the same).
Each change is audited by the signals in events/signals.py."""
from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from ..models import Grant, Repository
from ..oci.errors import RegistryError


class GrantInvalid(RegistryError):
    code = "DENIED"


def repository_settings_update(*, repository: Repository, public: bool, immutable_tags: bool) -> None:
    repository.public, repository.immutable_tags = public, immutable_tags
    repository.save(update_fields=["public", "immutable_tags"])


def grant_set(*, repository: Repository, level: str, user=None, group: Group | None = None) -> Grant:
    """Give `user` or `group` exactly `level` on the repository (replacing what this
    repository's own grant said; namespace grants are not touched)."""
    if (user is None) == (group is None):
        raise GrantInvalid("a grant goes to one user or one group")
    if level not in Grant.Level.values:
        raise GrantInvalid(f"unknown level {level}")
    with transaction.atomic():
        grant = Grant.objects.select_for_update().filter(repository=repository, user=user, group=group).first()
        if grant is None:
            return Grant.objects.create(repository=repository, user=user, group=group, level=level)
        if grant.level != level:
            grant.level = level
            grant.save(update_fields=["level"])
        return grant


def grant_remove(*, repository: Repository, grant_id: int) -> bool:
    """Remove one of the repository's own grants; False if it has no such grant."""
    grant = Grant.objects.filter(repository=repository, pk=grant_id).first()
    if grant is None:
        return False
    grant.delete()  # one by one, so the audit trail sees it
    return True
