"""Precompiled queries give what the QuerySet they were built from gives, value for value."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db.models import F
from django.utils import timezone

from registry_api.db.precompiled import Precompiled
from registry_api.models import Manifest, Repository, Tag

pytestmark = pytest.mark.django_db

BY_TAG = Precompiled(
    lambda name, tag: Manifest.objects.filter(repository__name=name, tags__name=tag)
    .annotate(tag_pulled_at=F("tags__last_pulled_at"))[:1],
    "name", "tag",
)


def _manifest(repo: str, tag: str, payload: bytes) -> Manifest:
    repository, _ = Repository.objects.get_or_create(name=repo)
    manifest = Manifest.objects.create(
        repository=repository, digest="sha256:" + payload.hex().ljust(64, "0")[:64], media_type="application/x-test",
        payload=payload, size=len(payload), annotations={"a": ["b"]},
    )
    Tag.objects.create(repository=repository, name=tag, manifest=manifest, last_pulled_at=timezone.now() - timedelta(hours=1))
    return manifest


def test_the_instance_equals_the_orm_one_field_by_field_annotations_included():
    _manifest("team/app", "v1", b"\x01\x02")
    wanted = _manifest("team/app", "v2", b"\x03\x04")
    _manifest("team/other", "v2", b"\x05\x06")
    got = BY_TAG.first(name="team/app", tag="v2")
    orm = Manifest.objects.filter(repository__name="team/app", tags__name="v2").annotate(
        tag_pulled_at=F("tags__last_pulled_at")).first()
    assert got.pk == wanted.pk == orm.pk
    for field in Manifest._meta.concrete_fields:
        assert getattr(got, field.attname) == getattr(orm, field.attname), field.name
    assert bytes(got.payload) == b"\x03\x04" and got.annotations == {"a": ["b"]}
    # Datetimes come converted as the ORM converts them: aware, comparable with now().
    assert got.tag_pulled_at == orm.tag_pulled_at and timezone.is_aware(got.tag_pulled_at)
    assert got._state.adding is False and got._state.db == "default"  # saved like a loaded row


def test_values_are_bound_never_spliced_into_the_sql():
    _manifest("team/app", "v1", b"\x01")
    assert BY_TAG.first(name="team/app", tag="v1' OR '1'='1") is None
    assert BY_TAG.first(name="team/app", tag="nope") is None
    assert BY_TAG.first(name="team/app", tag="v1") is not None


def test_constants_in_the_build_stay_part_of_the_query():
    active = Precompiled(lambda username: User.objects.filter(username=username, is_active=True)[:1], "username")
    User.objects.create_user("ann", is_active=True)
    User.objects.create_user("ben", is_active=False)
    assert active.first(username="ann").username == "ann"
    assert active.first(username="ben") is None


def test_a_parameter_the_query_does_not_use_is_a_programming_error():
    unused = Precompiled(lambda name, tag: Repository.objects.filter(name=name)[:1], "name", "tag")
    with pytest.raises(ValueError):
        unused.first(name="x", tag="y")


def test_select_related_is_refused_rather_than_half_loaded():
    joined = Precompiled(lambda name: Tag.objects.select_related("manifest").filter(name=name)[:1], "name")
    with pytest.raises(ValueError):
        joined.first(name="x")


def test_integer_and_uuid_parameters_bind_like_the_orm_converts_them():
    from registry_api.models import Upload

    repository = Repository.objects.create(name="team/app")
    Repository.objects.create(name="team/other")
    by_id = Precompiled(lambda pk: Repository.objects.filter(pk=pk)[:1], pk=int)
    assert by_id.first(pk=repository.pk).name == "team/app"
    assert by_id.first(pk=str(repository.pk)).name == "team/app"  # converted as int() would
    assert by_id.first(pk=repository.pk + 1000) is None

    upload = Upload.objects.create(repository_name="team/app")
    Upload.objects.create(repository_name="team/app")
    session = Precompiled(
        lambda pk, name: Upload.objects.filter(pk=pk, repository_name=name)[:1], "name", pk=uuid.UUID)
    assert session.first(pk=str(upload.pk), name="team/app").pk == upload.pk
    assert session.first(pk=upload.pk, name="team/app").pk == upload.pk
    assert session.first(pk=str(upload.pk), name="team/other") is None


@pytest.mark.django_db(transaction=True)  # the test's own transaction would hide autocommit
def test_select_for_update_is_refused_outside_a_transaction_as_the_orm_refuses_it():
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    Repository.objects.create(name="team/app")
    locked = Precompiled(lambda name: Repository.objects.select_for_update().filter(name=name)[:1], "name")
    with transaction.atomic():
        assert locked.first(name="team/app").name == "team/app"
    with pytest.raises(TransactionManagementError):
        locked.first(name="team/app")


def test_all_gives_every_row_the_queryset_gives_in_its_order():
    manifest = _manifest("team/app", "v2", b"\x01")
    Tag.objects.create(repository=manifest.repository, name="v1", manifest=manifest)
    _manifest("team/other", "v3", b"\x02")
    tags = Precompiled(lambda name: Tag.objects.filter(repository__name=name).order_by("name"), "name")
    assert [t.name for t in tags.all(name="team/app")] == ["v1", "v2"]
    assert tags.all(name="none/here") == []


def test_logged_and_watched_queries_go_through_djangos_cursor_others_straight_to_the_driver():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _manifest("team/app", "v1", b"\x01\x02")
    with CaptureQueriesContext(connection) as logged:
        assert BY_TAG.first(name="team/app", tag="v1").payload == b"\x01\x02"
    assert len(logged.captured_queries) == 1 and "registry_api_tag" in logged.captured_queries[0]["sql"]
    seen = []

    def watch(execute, sql, params, many, context):
        seen.append(params)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        assert BY_TAG.first(name="team/app", tag="v1") is not None
    assert [list(params) for params in seen] == [["team/app", "v1"]]
    assert not connection.queries_logged and not connection.execute_wrappers
    assert BY_TAG.first(name="team/app", tag="v1").payload == b"\x01\x02"  # the driver's own cursor
    assert BY_TAG.first(name="team/app", tag="nope") is None


def test_driver_errors_are_djangos_database_errors():
    import dataclasses

    from django.db import DatabaseError, connection

    from registry_api.db import precompiled

    BY_TAG.first(name="team/app", tag="v1")  # compiled
    compiled = next(iter(BY_TAG._compiled.values()))
    broken = dataclasses.replace(compiled, driver_sql=compiled.driver_sql.replace("registry_api_tag", "no_such_table", 1))
    with pytest.raises(DatabaseError) as raised:
        precompiled._execute(connection, broken, ["team/app", "v1"], lambda cursor: cursor.fetchone())
    assert type(raised.value).__module__ == "django.db.utils"


# Writes: the statements the push path runs, compiled once (precompiled.py).

def test_a_precompiled_insert_makes_the_row_and_instance_create_would():
    from registry_api.models import Blob, Upload
    from registry_api.db.precompiled import PrecompiledInsert

    before = timezone.now()
    blob = PrecompiledInsert(Blob).create(digest="sha256:" + "a" * 64, size=7)
    orm = Blob.objects.create(digest="sha256:" + "b" * 64, size=8)
    assert blob.pk is not None and blob.pk != orm.pk
    stored = Blob.objects.get(pk=blob.pk)
    assert (stored.digest, stored.size) == ("sha256:" + "a" * 64, 7)
    assert stored.created_at == blob.created_at and blob.created_at >= before  # auto_now_add, aware
    assert blob._state.adding is False and blob._state.db == "default"
    # A model whose primary key is a default (no auto field): the default is what is stored.
    upload = PrecompiledInsert(Upload).create(repository_name="team/app'; DROP TABLE x; --")
    assert Upload.objects.get(pk=upload.pk).repository_name == "team/app'; DROP TABLE x; --"
    assert upload.digest_algorithm == "sha256" and upload.claimed_at is None


def test_a_precompiled_insert_refused_by_a_constraint_raises_djangos_integrity_error():
    from django.db import IntegrityError, transaction

    from registry_api.db.precompiled import PrecompiledInsert

    insert = PrecompiledInsert(Repository)
    insert.create(name="team/app")
    with pytest.raises(IntegrityError), transaction.atomic():
        insert.create(name="team/app")
    assert Repository.objects.filter(name="team/app").count() == 1


def test_a_model_with_save_signals_is_created_through_save_so_receivers_still_run():
    from django.db.models.signals import post_save

    from registry_api.db.precompiled import PrecompiledInsert

    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.name, created))

    post_save.connect(receiver, sender=Repository, dispatch_uid="test-precompiled-insert")
    try:
        PrecompiledInsert(Repository).create(name="team/app")
    finally:
        post_save.disconnect(dispatch_uid="test-precompiled-insert", sender=Repository)
    assert seen == [("team/app", True)]


def test_a_precompiled_update_writes_only_the_matching_rows_and_counts_them():
    from datetime import datetime

    from registry_api.models import Upload
    from registry_api.db.precompiled import PrecompiledUpdate

    claim = PrecompiledUpdate(
        lambda pk, digest, at: (Upload.objects.filter(pk=pk), {"digest": digest, "claimed_at": at}),
        "digest", pk=uuid.UUID, at=datetime,
    )
    mine, other = Upload.objects.create(repository_name="a/b"), Upload.objects.create(repository_name="a/b")
    at = timezone.now() - timedelta(minutes=3)
    assert claim.run(pk=str(mine.pk), digest="sha256:" + "c" * 64, at=at) == 1
    mine.refresh_from_db()
    other.refresh_from_db()
    assert (mine.digest, mine.claimed_at) == ("sha256:" + "c" * 64, at)
    assert (other.digest, other.claimed_at) == ("", None)
    assert claim.run(pk=uuid.uuid4(), digest="sha256:" + "d" * 64, at=at) == 0


def test_a_precompiled_delete_removes_the_matching_rows_constants_included():
    from registry_api.models import Upload
    from registry_api.db.precompiled import PrecompiledDelete

    claimed = PrecompiledDelete(lambda pk, digest: Upload.objects.filter(pk=pk, digest=digest), "digest", pk=uuid.UUID)
    unclaimed = PrecompiledDelete(lambda name: Upload.objects.filter(repository_name=name, digest=""), "name")
    a = Upload.objects.create(repository_name="a/b", digest="sha256:" + "e" * 64)
    b = Upload.objects.create(repository_name="a/b")
    c = Upload.objects.create(repository_name="a/c")
    assert claimed.run(pk=a.pk, digest="sha256:" + "f" * 64) == 0
    assert claimed.run(pk=a.pk, digest="sha256:" + "e" * 64) == 1
    assert unclaimed.run(name="a/b") == 1
    assert list(Upload.objects.values_list("pk", flat=True)) == [c.pk]
    assert not Upload.objects.filter(pk__in=[a.pk, b.pk]).exists()


def test_precompiled_writes_are_logged_like_any_query_when_queries_are_logged():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from registry_api.db.precompiled import PrecompiledDelete, PrecompiledInsert

    with CaptureQueriesContext(connection) as logged:
        PrecompiledInsert(Repository).create(name="team/app")
        PrecompiledDelete(lambda name: Repository.objects.filter(name=name), "name").run(name="team/app")
    assert [q["sql"].split()[0] for q in logged.captured_queries] == ["INSERT", "DELETE"]
    assert not Repository.objects.exists()
