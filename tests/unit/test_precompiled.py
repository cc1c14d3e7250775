"""Precompiled queries give what the QuerySet they were built from gives, value for value."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db.models import F
from django.utils import timezone

from registry_api.models import Manifest, Repository, Tag
from registry_api.precompiled import Precompiled

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

    from registry_api import precompiled

    BY_TAG.first(name="team/app", tag="v1")  # compiled
    compiled = next(iter(BY_TAG._compiled.values()))
    broken = dataclasses.replace(compiled, driver_sql=compiled.driver_sql.replace("registry_api_tag", "no_such_table", 1))
    with pytest.raises(DatabaseError) as raised:
        precompiled._run_on_driver(connection, broken, ["team/app", "v1"], many=False)
    assert type(raised.value).__module__ == "django.db.utils"
