"""A PATCH whose session is cancelled by another request while it streams: on Azure the
late request's block list is refused (the session blob is gone), and the client must hear
BLOB_UPLOAD_UNKNOWN, as the spec says, not a 500 from the storage error underneath."""
from __future__ import annotations

import pytest

from registry_api.models import Upload
from registry_api.oci.errors import BlobUploadUnknown
from registry_api.services.uploads import upload_append, upload_cancel, upload_start

CHUNK = 256 * 1024  # two stay under the 1 MiB block: everything stays buffered until close


@pytest.fixture(autouse=True)
def blobs_in_azure(azure_storage):
    return azure_storage


def test_a_session_cancelled_during_a_patch_answers_upload_unknown():
    upload = upload_start(repository_name="team/app")

    def chunks():
        yield b"a" * CHUNK
        upload_cancel(upload=Upload.objects.get(pk=upload.pk))  # a DELETE from another request
        yield b"b" * CHUNK

    with pytest.raises(BlobUploadUnknown):
        upload_append(upload=upload, chunks=chunks())
    assert not Upload.objects.filter(pk=upload.pk).exists()


def test_a_quota_refusal_is_not_hidden_by_the_lost_session(settings):
    """An error raised while streaming stays the error the client hears."""
    upload = upload_start(repository_name="team/app")

    def chunks():
        yield b"a" * CHUNK
        upload_cancel(upload=Upload.objects.get(pk=upload.pk))
        raise ValueError("client went away")

    with pytest.raises(ValueError):
        upload_append(upload=upload, chunks=chunks())
