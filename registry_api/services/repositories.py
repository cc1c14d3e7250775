"""Finding and creating repositories."""
from __future__ import annotations

from ..errors import NameUnknown
from ..models import Repository


def repository_get(*, name: str) -> Repository:
    try:
        return Repository.objects.get(name=name)
    except Repository.DoesNotExist:
        raise NameUnknown(detail={"name": name}) from None


def repository_ensure(*, name: str) -> Repository:
    """The repository called `name`, created by the first push into it."""
    repository, _ = Repository.objects.get_or_create(name=name)
    return repository
