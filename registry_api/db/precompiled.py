"""Hot read queries compiled to SQL once, then only run.

Building and compiling a QuerySet costs about 0.4 ms of Python on this machine, running
the SQL it compiles to about 25 µs on SQLite: on the pull path (a manifest HEAD by tag, the
user behind a token) compiling was most of each request (docs/performance.md). A
`Precompiled` query is an ordinary QuerySet built once with placeholder values and compiled
on first use per database; each call binds the real values, runs the SQL through Django's
cursor and makes the model instance as the ORM does (its converters, `from_db`,
annotations as attributes), so callers get the same object a `.first()` would give.

Django's cursor wrappers then cost more than SQLite's own execute (~25 of ~45 µs a query,
SQLite rewriting `%s` to `?` with a regex every time): unless queries are being logged
(DEBUG, CaptureQueriesContext) or watched (`execute_wrapper`), which need Django's cursor,
the statement goes to the driver's cursor directly, rewritten once, with the same checks
(connection health, thread sharing, broken transactions) and the same error wrapping.

The push path writes as often as it reads (about 60 statements per small image), so the
same holds for its writes: `PrecompiledUpdate` and `PrecompiledDelete` are a QuerySet's
`update()` and raw delete compiled once, `PrecompiledInsert` a model's `create()` with its
INSERT compiled once (the ORM's own field conversions, no save() machinery around them).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet, signals, sql
from django.db.transaction import TransactionManagementError


class _Placeholder(str):
    """A string parameter's stand-in while the query compiles: CharField lookups pass it
    through unchanged, so it is recognised afterwards by identity in the SQL parameters."""


# Integer, UUID and datetime values are converted on their way to the SQL (int(), UUID.hex
# and a string on SQLite), so identity is lost: their stand-ins are values no real row
# has, recognised by value.
_INT_BASE = -0x5EED_0000_0000_0000
_UUID_BASE = 0x5EED_0000_0000_0000_0000_0000_0000_0000
_DATETIME_BASE = datetime(1, 1, 1, tzinfo=timezone.utc)


def _placeholder(kind: type, name: str, index: int):
    if kind is str:
        return _Placeholder(f"\x00{name}\x00")
    if kind is int:
        return _INT_BASE - index
    if kind is uuid.UUID:
        return uuid.UUID(int=_UUID_BASE + index)
    if kind is datetime:
        return _DATETIME_BASE + timedelta(microseconds=index + 1)
    raise TypeError(f"parameter {name}: only str, int, uuid.UUID and datetime parameters can be precompiled")


def _bind_kind(param, placeholders: dict, connection) -> tuple[str, str] | None:
    """("str" | "int" | "uuid" | "uuid-hex" | "datetime", name) if the SQL parameter is a placeholder."""
    for name, (kind, value) in placeholders.items():
        if kind is str and param is value:
            return "str", name
        if kind is int and type(param) is int and param == value:
            return "int", name
        if kind is uuid.UUID and isinstance(param, uuid.UUID) and param == value:
            return "uuid", name
        if kind is uuid.UUID and isinstance(param, str) and param == value.hex:
            return "uuid-hex", name
        if kind is datetime and type(param) is type(adapted := connection.ops.adapt_datetimefield_value(value)) \
                and param == adapted:
            return "datetime", name
    return None


def _bound(kind: str, value, connection):
    if kind == "int":
        return int(value)
    if kind in ("uuid", "uuid-hex"):
        value = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        return value if kind == "uuid" else value.hex
    if kind == "datetime":
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _binds(sql_params, placeholders: dict, parameters: dict, connection) -> tuple:
    """Per SQL parameter, the parameter it binds or the constant it is; every parameter
    must appear exactly once (a parameter the query ignores is a mistake in its build)."""
    binds = tuple(_bind_kind(p, placeholders, connection) or ("constant", p) for p in sql_params)
    if sorted(name for kind, name in binds if kind != "constant") != sorted(parameters):
        raise ValueError("every parameter must appear exactly once in the compiled query")
    return binds


def _params(binds: tuple, values: dict, connection) -> list:
    return [item if kind == "constant" else _bound(kind, values[item], connection) for kind, item in binds]


def _placeholders(kinds: dict) -> dict:
    return {name: (kind, _placeholder(kind, name, index)) for index, (name, kind) in enumerate(kinds.items())}


@dataclass(frozen=True)
class _Compiled:
    sql: str
    binds: tuple  # per SQL parameter: (kind, name) of a parameter, or ("constant", value)
    model: type[Model]
    fields: tuple[int, int, tuple[str, ...]]  # start, end, attnames of the model's columns
    annotations: tuple[tuple[str, int], ...]
    converters: tuple  # (position, converter functions, expression), as the ORM applies them
    for_update: bool
    driver_sql: str  # `sql` as the driver takes it
    driver_execute: Callable | None  # the driver cursor's own execute, past Django's rewriting


def _driver_form(connection, sql: str) -> tuple[str, Callable | None]:
    """SQLite's cursor wrapper rewrites the placeholders on every call: do it here, once."""
    if connection.vendor == "sqlite":
        from django.db.backends.sqlite3.base import Database, SQLiteCursorWrapper

        return SQLiteCursorWrapper.convert_query(None, sql), Database.Cursor.execute
    return sql, None


class Precompiled:
    """`build(**placeholders)` returns the QuerySet; `first(**values)` or `all(**values)` runs it.

    Parameters are strings (names, tags, digests) unless typed by keyword: `int` for ids,
    `uuid.UUID` for upload ids. Anything else the build passes is compiled in as a constant.
    The query must select a model (no `values()`, no `select_related`), which is what the
    hot lookups need; `select_for_update()` is kept, and refused outside a transaction.
    """

    def __init__(self, build: Callable[..., QuerySet], *parameters: str, **typed: type) -> None:
        self._build = build
        self._kinds = {**dict.fromkeys(parameters, str), **typed}
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _compile(self, using: str) -> _Compiled:
        placeholders = _placeholders(self._kinds)
        queryset = self._build(**{name: value for name, (_, value) in placeholders.items()}).using(using)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        binds = _binds(params, placeholders, self._kinds, connections[using])
        info = compiler.klass_info
        if info is None or info.get("related_klass_infos"):
            raise ValueError("a precompiled query selects one model, without select_related")
        start, end = info["select_fields"][0], info["select_fields"][-1] + 1
        attnames = tuple(selected[0].target.attname for selected in compiler.select[start:end])
        converters = compiler.get_converters([selected[0] for selected in compiler.select[:compiler.col_count]])
        driver_sql, driver_execute = _driver_form(connections[using], sql)
        return _Compiled(
            sql=sql, binds=binds, model=info["model"], fields=(start, end, attnames),
            annotations=tuple(compiler.annotation_col_map.items()),
            converters=tuple((pos, tuple(convs), expr) for pos, (convs, expr) in converters.items()),
            for_update=queryset.query.select_for_update, driver_sql=driver_sql, driver_execute=driver_execute,
        )

    def first(self, *, using: str = DEFAULT_DB_ALIAS, **values) -> Model | None:
        """The first row as a model instance, or None (build the QuerySet sliced `[:1]`)."""
        return next(iter(self._run(using, values, many=False)), None)

    def all(self, *, using: str = DEFAULT_DB_ALIAS, **values) -> list[Model]:
        """Every row, as model instances."""
        return self._run(using, values, many=True)

    def _run(self, using: str, values: dict, many: bool) -> list[Model]:
        connection = connections[using]
        key = (using, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using)
        if compiled.for_update and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = _params(compiled.binds, values, connection)
        rows = _execute(connection, compiled, params, lambda cursor: _fetch(cursor, many))
        return [self._instance(compiled, connection, using, list(row)) for row in rows]

    @staticmethod
    def _instance(compiled: _Compiled, connection, using: str, row: list) -> Model:
        for pos, convs, expression in compiled.converters:
            value = row[pos]
            for convert in convs:
                value = convert(value, expression, connection)
            row[pos] = value
        start, end, attnames = compiled.fields
        instance = compiled.model.from_db(using, list(attnames), row[start:end])
        for name, pos in compiled.annotations:
            setattr(instance, name, row[pos])
        return instance


def _fetch(cursor, many: bool) -> list:
    return cursor.fetchall() if many else [row for row in [cursor.fetchone()] if row is not None]


def _execute(connection, compiled, params: list, result: Callable):
    """Run `compiled` (anything with sql, driver_sql and driver_execute) and return
    `result(cursor)`: through Django's cursor when queries are logged or watched, else
    with what `connection.cursor()` and `CursorWrapper.execute` check and wrap, without them."""
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return result(cursor)
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        cursor = connection.create_cursor()
        try:
            if compiled.driver_execute is not None:
                compiled.driver_execute(cursor, compiled.driver_sql, params)
            else:
                cursor.execute(compiled.driver_sql, params)
            return result(cursor)
        finally:
            cursor.close()


@dataclass(frozen=True)
class _Statement:
    sql: str
    binds: tuple
    driver_sql: str
    driver_execute: Callable | None


class _PrecompiledWrite:
    """An UPDATE or DELETE built from a QuerySet with placeholders, run for its row count."""

    def __init__(self, build: Callable, *parameters: str, **typed: type) -> None:
        self._build = build
        self._kinds = {**dict.fromkeys(parameters, str), **typed}
        self._compiled: dict[tuple[str, str], _Statement] = {}

    def _statement(self, placeholders: dict, using: str) -> tuple[str, list]:
        raise NotImplementedError

    def run(self, *, using: str = DEFAULT_DB_ALIAS, **values) -> int:
        """The number of rows written."""
        connection = connections[using]
        key = (using, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            placeholders = _placeholders(self._kinds)
            statement, params = self._statement(placeholders, using)
            compiled = self._compiled[key] = _Statement(
                statement, _binds(params, placeholders, self._kinds, connection), *_driver_form(connection, statement)
            )
        return _execute(connection, compiled, _params(compiled.binds, values, connection), lambda cursor: cursor.rowcount)


class PrecompiledUpdate(_PrecompiledWrite):
    """`queryset.update(**changes)`, compiled once: `build(**placeholders)` returns the pair
    (queryset, changes). As `update()`: no save(), no signals, `auto_now` not applied."""

    def _statement(self, placeholders: dict, using: str) -> tuple[str, list]:
        queryset, changes = self._build(**{name: value for name, (_, value) in placeholders.items()})
        query = queryset.query.chain(sql.UpdateQuery)
        query.add_update_values(changes)
        if query.related_updates:
            raise ValueError("a precompiled update writes one table")
        return query.get_compiler(using=using).as_sql()


class PrecompiledDelete(_PrecompiledWrite):
    """The rows of `build(**placeholders)` deleted in one statement, as `QuerySet._raw_delete`:
    no cascade collected in Python (the caller deletes dependants), no signals."""

    def _statement(self, placeholders: dict, using: str) -> tuple[str, list]:
        query = self._build(**{name: value for name, (_, value) in placeholders.items()}).query.clone()
        query.__class__ = sql.DeleteQuery
        return query.get_compiler(using=using).as_sql()


@dataclass(frozen=True)
class _Insert:
    sql: str
    fields: tuple  # the columns written, in the statement's order
    returning: bool  # the auto primary key comes back from the INSERT itself
    driver_sql: str
    driver_execute: Callable | None


class PrecompiledInsert:
    """`Model.objects.create(**fields)`, the INSERT compiled once per database.

    The instance is made as create() makes it (defaults, `auto_now_add`) and every value
    converted by its field as save() converts it. A model that save() signals are connected
    to goes through create() itself: skipping a receiver would change behaviour.
    """

    def __init__(self, model: type[Model]) -> None:
        meta = model._meta
        if [f for f in meta.db_returning_fields if f is not meta.auto_field]:
            raise ValueError("a precompiled insert returns only an auto primary key")
        self._model = model
        self._compiled: dict[tuple[str, str], _Insert] = {}

    def _compile(self, using: str, obj: Model) -> _Insert:
        connection = connections[using]
        meta = self._model._meta
        fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
        query = sql.InsertQuery(self._model)
        query.insert_values(fields, [obj])
        compiler = query.get_compiler(using=using)
        returning = meta.auto_field is not None and connection.features.can_return_columns_from_insert
        if returning:
            compiler.returning_fields = [meta.auto_field]
        [(statement, _)] = compiler.as_sql()
        return _Insert(statement, tuple(fields), returning, *_driver_form(connection, statement))

    def create(self, *, using: str = DEFAULT_DB_ALIAS, **fields) -> Model:
        model = self._model
        if signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model):
            return model._default_manager.db_manager(using).create(**fields)
        obj = model(**fields)
        connection = connections[using]
        key = (using, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using, obj)
        params = [field.get_db_prep_save(field.pre_save(obj, True), connection=connection) for field in compiled.fields]
        auto = model._meta.auto_field
        pk = _execute(connection, compiled, params, lambda cursor: (
            None if auto is None else cursor.fetchone()[0] if compiled.returning
            else connection.ops.last_insert_id(cursor, model._meta.db_table, auto.column)
        ))
        if auto is not None:
            setattr(obj, auto.attname, pk)
        obj._state.adding = False
        obj._state.db = using
        return obj
