"""Pluggable blob storage. `get_storage()` returns the one configured backend instance."""
from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import BlobStorage


@lru_cache(maxsize=1)
def get_storage() -> BlobStorage:
    """Build the backend named by REGISTRY_STORAGE_BACKEND once per process."""
    backend_class = import_string(settings.REGISTRY_STORAGE_BACKEND)
    return backend_class.from_settings(settings)
