"""App config: a misconfigured storage backend is a startup error, never a silent fallback."""
from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class StorageBackendsConfig(AppConfig):
    name = "storage_backends"

    def ready(self) -> None:
        checks.register(check_storage_backend)


def check_storage_backend(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from . import get_storage

    get_storage.cache_clear()
    try:
        get_storage().check()
    except Exception as exc:  # any failure to build or reach the backend
        return [
            checks.Error(
                f"blob storage backend unusable: {exc}",
                hint="Check REGISTRY_STORAGE_BACKEND and REGISTRY_DATA_DIR.",
                id="storage_backends.E001",
            )
        ]
    return []
