"""Deleting a namespace: its grants, limited tokens, retention policies and webhooks go with
it (database cascades, each audited by events/signals.py), but never its repositories;
while it holds any the answer is a conflict, so images are deleted on purpose, one
repository at a time, through services/repositories.py. Used by the admin and the
management API."""
from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from ..models import Namespace, Repository
from ..oci.errors import RegistryError
from ..selectors.repositories import repository_search


class NamespaceNotEmpty(RegistryError):
    code = "DENIED"
    status = 409


def namespace_repositories(*, namespace: Namespace) -> QuerySet:
    """What keeps the namespace from being deleted (the admin lists them on its confirmation
    page before anyone confirms)."""
    return repository_search(repositories=Repository.objects.all(), namespace=namespace.name).order_by("name")


def namespace_delete(*, namespace: Namespace) -> None:
    with transaction.atomic():
        locked = Namespace.objects.select_for_update().filter(pk=namespace.pk).first()
        if locked is None:
            return  # deleted meanwhile: the outcome asked for
        held = namespace_repositories(namespace=locked).count()
        if held:
            raise NamespaceNotEmpty(
                f"namespace {locked.name} still holds {held} repositor{'y' if held == 1 else 'ies'}; delete them first")
        locked.delete()
