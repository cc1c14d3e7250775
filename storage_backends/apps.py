"""App config: a misconfigured storage backend is a startup error, never a silent fallback."""
from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class StorageBackendsConfig(AppConfig):
    name = "storage_backends"

    def ready(self) -> None:
        checks.register(check_storage_backend)
        checks.register(check_s3_settings)
        checks.register(check_azure_settings)


def check_storage_backend(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from . import get_storage

    get_storage.cache_clear()
    try:
        get_storage().check()
    except Exception as exc:  # any failure to build or reach the backend
        return [
            checks.Error(
                f"blob storage backend unusable: {exc}",
                hint="Check REGISTRY_STORAGE_BACKEND, REGISTRY_DATA_DIR and the REGISTRY_S3_* or REGISTRY_AZURE_* settings.",
                id="storage_backends.E001",
            )
        ]
    return []


def check_s3_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Each missing or contradictory S3 setting by name, before anything reaches the bucket."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    try:
        backend = import_string(settings.REGISTRY_STORAGE_BACKEND)
    except ImportError:
        return []  # E001 reports it
    from .s3 import S3Config, S3Storage

    messages: list[checks.CheckMessage] = []
    if issubclass(backend, S3Storage):
        messages += [checks.Error(problem, id="storage_backends.E002") for problem in S3Config.from_settings(settings).problems()]
    if settings.REGISTRY_X_ACCEL_REDIRECT and not hasattr(backend, "relative_path"):
        messages.append(checks.Warning(
            "REGISTRY_X_ACCEL_REDIRECT is ignored: this storage backend has no files for nginx to send.",
            hint="Unset it; with S3 or Azure, REGISTRY_S3_REDIRECT or REGISTRY_AZURE_REDIRECT sends clients to the store instead.",
            id="storage_backends.W001",
        ))
    return messages


def check_azure_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Each missing or contradictory Azure setting by name, before anything reaches the account."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    try:
        backend = import_string(settings.REGISTRY_STORAGE_BACKEND)
    except ImportError:
        return []  # E001 reports it
    # Without importing the Azure SDK where another backend is configured.
    if not any(cls.__module__ == "storage_backends.azure" for cls in getattr(backend, "__mro__", ())):
        return []
    from .azure import AzureConfig

    return [checks.Error(problem, id="storage_backends.E003") for problem in AzureConfig.from_settings(settings).problems()]
