"""Hot read queries compiled to SQL once, then only run.

Building and compiling a QuerySet costs about 0.4 ms of Python on this machine, running
the SQL it compiles to about 25 µs on SQLite: on the pull path (a manifest HEAD by tag, the
user behind a token) compiling was most of each request (README "Performance"). A
`Precompiled` query is an ordinary QuerySet built once with placeholder values and compiled
on first use per database; each call binds the real values, runs the SQL through Django's
cursor and makes the model instance as the ORM does (its converters, `from_db`,
annotations as attributes), so callers get the same object a `.first()` would give.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet


class _Placeholder(str):
    """A parameter's stand-in while the query compiles: a string, so CharField lookups
    pass it through unchanged, recognised afterwards by identity in the SQL parameters."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    binds: tuple  # per SQL parameter: ("value", name) or ("constant", value)
    model: type[Model]
    fields: tuple[int, int, tuple[str, ...]]  # start, end, attnames of the model's columns
    annotations: tuple[tuple[str, int], ...]
    converters: tuple  # (position, converter functions, expression), as the ORM applies them


class Precompiled:
    """`build(**placeholders)` returns the QuerySet; `first(**values)` runs it.

    Only string-valued parameters can be placeholders (names, tags, digests); anything else
    the build passes is compiled in as a constant. The query must select a model (no
    `values()`, no `select_related`), which is what the hot lookups need.
    """

    def __init__(self, build: Callable[..., QuerySet], *parameters: str) -> None:
        self._build = build
        self._parameters = parameters
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _compile(self, using: str) -> _Compiled:
        placeholders = {name: _Placeholder(f"\x00{name}\x00") for name in self._parameters}
        queryset = self._build(**placeholders).using(using)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        by_identity = {id(value): name for name, value in placeholders.items()}
        binds = tuple(("value", by_identity[id(p)]) if id(p) in by_identity else ("constant", p) for p in params)
        if sorted(name for kind, name in binds if kind == "value") != sorted(self._parameters):
            raise ValueError("every parameter must appear exactly once in the compiled query")
        info = compiler.klass_info
        if info is None or info.get("related_klass_infos"):
            raise ValueError("a precompiled query selects one model, without select_related")
        start, end = info["select_fields"][0], info["select_fields"][-1] + 1
        attnames = tuple(selected[0].target.attname for selected in compiler.select[start:end])
        converters = compiler.get_converters([selected[0] for selected in compiler.select[:compiler.col_count]])
        return _Compiled(
            sql=sql, binds=binds, model=info["model"], fields=(start, end, attnames),
            annotations=tuple(compiler.annotation_col_map.items()),
            converters=tuple((pos, tuple(convs), expr) for pos, (convs, expr) in converters.items()),
        )

    def first(self, *, using: str = DEFAULT_DB_ALIAS, **values: str) -> Model | None:
        connection = connections[using]
        key = (using, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using)
        params = [values[item] if kind == "value" else item for kind, item in compiled.binds]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
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
