"""Creating a row a lookup has just not found, without get_or_create's second SELECT."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Model

M = TypeVar("M", bound=Model)


def create_missing(model: type[M], found: Callable[[], M | None], **fields) -> M:
    """INSERT the row in a savepoint; if a concurrent writer inserted it first (the unique
    constraint refuses ours), `found()` reads theirs. The push path looks rows up with
    precompiled queries (precompiled.py), so only the INSERT is left to the ORM."""
    try:
        with transaction.atomic():
            return model._default_manager.create(**fields)
    except IntegrityError:
        row = found()
        if row is None:
            raise
        return row
