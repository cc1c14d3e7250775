"""The push path's row writes: what happens when a concurrent writer got there first, or
the session's claim ended while it committed (services/uploads.py, services/blobs.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from registry_api.db.rows import create_missing
from registry_api.models import Blob, Repository, RepositoryBlob, Upload
from registry_api.oci.errors import BlobUploadUnknown
from registry_api.services import blobs as blob_service, uploads as upload_service
from registry_api.services.repositories import repository_ensure
from storage_backends import get_storage
from tests import builders

pytestmark = pytest.mark.django_db


def test_a_row_a_concurrent_writer_inserted_first_is_read_back():
    theirs = Repository.objects.create(name="team/app")
    assert create_missing(Repository, lambda: Repository.objects.filter(name="team/app").first(), name="team/app") == theirs
    assert Repository.objects.filter(name="team/app").count() == 1


def test_a_refused_insert_with_nothing_to_read_back_is_not_hidden():
    Repository.objects.create(name="team/app")
    with pytest.raises(IntegrityError):
        create_missing(Repository, lambda: None, name="team/app")


def test_a_link_a_concurrent_push_made_first_gets_its_age_restarted(monkeypatch):
    """Both pushes found no link; the second's INSERT hits the unique constraint."""
    repository = repository_ensure(name="team/app")
    blob = Blob.objects.create(digest=builders.sha256(b"x"), size=1)
    long_ago = timezone.now() - timedelta(hours=3)
    RepositoryBlob.objects.create(repository=repository, blob=blob)
    RepositoryBlob.objects.update(created_at=long_ago)
    monkeypatch.setattr(blob_service._LINK_LOCKED, "first", lambda **_: None)
    assert blob_service.blob_register(repository=repository, digest=blob.digest, size=1) == blob
    link = RepositoryBlob.objects.get()
    assert link.created_at > long_ago + timedelta(hours=2)


def test_a_session_cancelled_while_committing_registers_nothing_and_drops_the_file(monkeypatch):
    """The claim went between the file move and the registration: the blob row, link and
    repository roll back, the file goes (nobody else claims it), and the client hears 404."""
    data = b"cancelled while committing"
    digest = builders.sha256(data)
    upload = upload_service.upload_start(repository_name="team/app")
    announce = upload_service._announce_commit

    def announce_then_cancel(session, claimed):
        announce(session, claimed)
        Upload.objects.filter(pk=session.pk).delete()  # a purge, say

    monkeypatch.setattr(upload_service, "_announce_commit", announce_then_cancel)
    with pytest.raises(BlobUploadUnknown):
        upload_service.upload_commit(upload=upload, digest=digest, chunks=[data], declared_length=len(data))
    assert not Blob.objects.exists() and not RepositoryBlob.objects.exists()
    assert not Repository.objects.filter(name="team/app").exists()
    assert get_storage().stat(digest) is None
