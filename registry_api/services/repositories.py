"""Finding, creating and deleting repositories."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from storage_backends import get_storage

from .. import events
from ..auth.access import Denied
from ..db.locking import lock_repository
from ..db.precompiled import Precompiled
from ..db.rows import create_missing
from ..models import Manifest, Repository, Tag, Upload
from ..oci.errors import NameUnknown

logger = logging.getLogger(__name__)


# Every blob and manifest push looks its repository up (precompiled.py says why).
_BY_NAME = Precompiled(lambda name: Repository.objects.filter(name=name)[:1], "name")


def repository_find(*, name: str) -> Repository | None:
    return _BY_NAME.first(name=name)


def repository_get(*, name: str) -> Repository:
    repository = _BY_NAME.first(name=name)
    if repository is None:
        raise NameUnknown(detail={"name": name})
    return repository


def repository_ensure(*, name: str) -> Repository:
    """The repository called `name`, created by the first push into it."""
    repository = _BY_NAME.first(name=name)
    if repository is None:
        repository = create_missing(Repository, lambda: _BY_NAME.first(name=name), name=name)
    return repository


@dataclass
class RepositoryDeleted:
    name: str
    tags: int
    manifests: int


def repository_delete(*, name: str, override_immutable: bool = False) -> RepositoryDeleted:
    """Delete a repository with its tags, manifests, blob links, upload sessions and the
    grants given on it. Blob bytes stay until garbage collection finds them unused, as
    after any other delete; the staged bytes of unfinished uploads go now.

    A repository with immutable tags that holds tags is deleted only with
    `override_immutable` (its admin): pushed again, it would come back with other images
    under the same tags."""
    repository = repository_get(name=name)
    with transaction.atomic():
        repository = lock_repository(repository.pk)
        if repository.immutable_tags and not override_immutable and Tag.objects.filter(repository=repository).exists():
            raise Denied(
                f"tags are immutable in repository {name}: only a repository admin may delete it",
                detail={"name": name},
            )
        deleted = RepositoryDeleted(
            name=name,
            tags=Tag.objects.filter(repository=repository).count(),
            manifests=Manifest.objects.filter(repository=repository).count(),
        )
        # Sessions name their repository (no cascade): they go in the same transaction.
        uploads = Upload.objects.filter(repository_name=name)
        upload_ids = [str(pk) for pk in uploads.values_list("pk", flat=True)]
        uploads.delete()
        repository.delete()
    # After the commit: file removal is slow I/O and must not hold the write lock.
    for upload_id in upload_ids:
        get_storage().cancel_upload(upload_id)
    logger.info("delete repository=%s tags=%d manifests=%d", name, deleted.tags, deleted.manifests)
    events.record(
        action="delete", repository=name, target=name,
        detail={"kind": "repository", "tags": deleted.tags, "manifests": deleted.manifests},
    )
    return deleted
