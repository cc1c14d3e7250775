"""Storage quota per namespace: blobs counted once per namespace, pushes over it DENIED
(before the body is read when its size is declared), failed uploads never counted."""
from __future__ import annotations

import pytest

from registry_api.auth.access import Denied
from registry_api.models import Namespace, Repository, RepositoryBlob, Upload
from registry_api.services import uploads as upload_service
from registry_api.services.quotas import namespace_usage, storage_by_namespace
from storage_backends import get_storage

from .support import assert_error, sha256

KB = b"k" * 1000


@pytest.fixture
def team(db) -> Namespace:
    return Namespace.objects.create(name="team", quota_bytes=2500)


def _staged() -> list:
    return list(get_storage().walk("uploads"))


def test_usage_counts_each_blob_once_in_the_namespace(registry, team):
    registry.push_blob("team/a", KB)
    registry.push_blob("team/b", KB)  # the same layer in a second repository
    registry.push_blob("team/b", b"x" * 500)
    registry.push_blob("other/c", KB)
    assert namespace_usage(namespace="team") == 1500
    registry.push_blob("team", b"y" * 100)  # a repository named like the namespace is in it
    assert namespace_usage(namespace="team") == 1600


def test_a_monolithic_push_over_quota_is_refused_before_the_body_is_read(client, team):
    data = b"z" * 3000
    response = client.post(f"/v2/team/app/blobs/uploads/?digest={sha256(data)}", data,
                           content_type="application/octet-stream")
    error = assert_error(response, 403, "DENIED")
    assert error["message"] == (
        "storage quota of namespace team exceeded: 0 bytes of 2.4 KiB used, this blob needs 2.9 KiB more"
    )
    assert error["detail"] == {"namespace": "team", "quota_bytes": 2500, "used_bytes": 0, "blob_bytes": 3000}
    assert not Upload.objects.exists() and not Repository.objects.exists() and _staged() == []


def test_the_service_never_touches_the_body_when_the_declared_size_is_over(team):
    def body():
        raise AssertionError("the body was read")
        yield b""

    with pytest.raises(Denied):
        upload_service.upload_monolithic(repository_name="team/app", digest=sha256(b"q"), chunks=body(),
                                         declared_length=10_000)


def test_a_chunked_push_is_refused_at_the_patch_that_crosses_the_quota(client, registry, team):
    registry.push_blob("team/app", KB * 2)
    location = registry.start_upload("team/app")
    assert client.patch(location, b"a" * 400, content_type="application/octet-stream").status_code == 202
    response = client.patch(location, b"b" * 400, content_type="application/octet-stream")
    error = assert_error(response, 403, "DENIED")
    assert error["detail"] == {"namespace": "team", "quota_bytes": 2500, "used_bytes": 2000, "blob_bytes": 800}
    assert not Upload.objects.exists() and _staged() == []  # the session went with its bytes
    assert_error(client.put(f"{location}?digest={sha256(b'a' * 400 + b'b' * 400)}", b"",
                            content_type="application/octet-stream"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert namespace_usage(namespace="team") == 2000


def test_a_streamed_chunk_is_refused_as_it_arrives_with_usage_computed_once(team, monkeypatch):
    """A docker-style PATCH: one chunked body of unknown length, read 1 MiB at a time."""
    from registry_api.services import quotas

    Namespace.objects.filter(pk=team.pk).update(quota_bytes=3 * 1024 * 1024)
    calls, read = [], []
    real_usage = quotas.namespace_usage
    monkeypatch.setattr(quotas, "namespace_usage", lambda **kw: calls.append(kw) or real_usage(**kw))

    def body():
        for _ in range(10):
            read.append(1)
            yield b"m" * (1024 * 1024)

    upload = upload_service.upload_start(repository_name="team/app")
    with pytest.raises(Denied, match="this upload has staged 4.0 MiB more"):
        upload_service.upload_append(upload=upload, chunks=body())
    assert len(calls) == 1 and len(read) == 4  # refused at the 4th MiB, not after the 10th
    assert not Upload.objects.exists() and _staged() == []


def test_a_patch_declaring_too_much_is_refused_before_its_body_is_read(client, registry, team):
    location = registry.start_upload("team/app")
    response = client.patch(location, KB * 3, content_type="application/octet-stream")
    assert_error(response, 403, "DENIED")
    assert not Upload.objects.exists() and _staged() == []


def test_a_chunked_push_over_quota_in_its_last_chunk_fails_at_commit_and_leaves_nothing(client, registry, team):
    registry.push_blob("team/app", KB * 2)
    data = b"c" * 400 + KB
    location = registry.start_upload("team/app")
    assert client.patch(location, data[:400], content_type="application/octet-stream").status_code == 202
    response = client.put(f"{location}?digest={sha256(data)}", data[400:], content_type="application/octet-stream")
    assert_error(response, 403, "DENIED")
    assert not Upload.objects.exists() and _staged() == []
    assert get_storage().stat(sha256(data)) is None
    assert namespace_usage(namespace="team") == 2000


def test_a_blob_the_namespace_already_holds_is_free(registry, team):
    registry.push_blob("team/a", KB * 2)
    registry.push_blob("team/b", b"w" * 500)  # at 2500: full
    registry.push_blob("team/c", KB * 2)  # deduplicated: accepted
    assert namespace_usage(namespace="team") == 2500


def test_mounts_are_counted_like_uploads(client, registry, team):
    digest = registry.push_blob("other/base", KB * 3)
    response = client.post(f"/v2/team/app/blobs/uploads/?mount={digest}&from=other/base")
    assert_error(response, 403, "DENIED")
    registry.push_blob("team/a", KB)
    inside = client.post(f"/v2/team/b/blobs/uploads/?mount={sha256(KB)}&from=team/a")
    assert inside.status_code == 201  # within the namespace: no new bytes


def test_failed_uploads_never_count(client, registry, team):
    response = client.post(f"/v2/team/app/blobs/uploads/?digest={sha256(b'other')}", KB,
                           content_type="application/octet-stream")
    assert_error(response, 400, "DIGEST_INVALID")
    location = registry.start_upload("team/app")
    client.patch(location, KB * 2, content_type="application/octet-stream")  # staged, never committed
    assert namespace_usage(namespace="team") == 0
    registry.push_blob("team/app", b"v" * 2500)  # the whole quota is still free


def test_a_race_past_the_early_check_is_caught_where_the_blob_is_linked(registry, team, monkeypatch):
    registry.push_blob("team/app", KB * 2)
    # As if both checked at once: the early checks pass, the one where the blob is linked refuses.
    monkeypatch.setattr(upload_service, "quota_check", lambda **kwargs: None)
    monkeypatch.setattr(upload_service, "quota_room", lambda **kwargs: None)
    upload = upload_service.upload_start(repository_name="team/app")
    upload_service.upload_append(upload=upload, chunks=[KB])
    with pytest.raises(Denied):
        upload_service.upload_commit(upload=upload, digest=sha256(KB))
    assert not Upload.objects.exists()
    assert get_storage().stat(sha256(KB)) is None  # its file went too: it has no row
    assert not RepositoryBlob.objects.filter(blob__digest=sha256(KB)).exists()


def test_no_quota_means_unlimited(registry, db):
    Namespace.objects.create(name="free")
    registry.push_blob("free/app", KB * 100)
    registry.push_blob("nons/app", KB * 100)


def test_storage_by_namespace_shows_attributed_exclusive_and_physical(registry, team):
    registry.push_blob("team/a", KB)
    registry.push_blob("team/b", KB)
    registry.push_blob("team/b", b"t" * 300)
    registry.push_blob("other/c", KB)
    rows, physical = storage_by_namespace()
    usage = {row.namespace: (row.attributed_bytes, row.exclusive_bytes, row.quota_bytes) for row in rows}
    assert usage == {"team": (1300, 300, 2500), "other": (1000, 0, None)}
    assert physical == 1300
