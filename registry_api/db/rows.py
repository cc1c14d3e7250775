"""Creating a row a lookup has just not found, without get_or_create's second SELECT."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Model

from .precompiled import PrecompiledInsert

M = TypeVar("M", bound=Model)

_INSERTS: dict[type[Model], PrecompiledInsert] = {}


def create_missing(model: type[M], found: Callable[[], M | None], **fields) -> M:
    """INSERT the row in a savepoint; if a concurrent writer inserted it first (the unique
    constraint refuses ours), `found()` reads theirs. The push path looks rows up with
    precompiled queries, and the INSERT is precompiled too (precompiled.py)."""
    insert = _INSERTS.get(model) or _INSERTS.setdefault(model, PrecompiledInsert(model))
    try:
        with transaction.atomic():
            return insert.create(**fields)
    except IntegrityError:
        row = found()
        if row is None:
            raise
        return row
