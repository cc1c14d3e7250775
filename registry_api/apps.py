"""The registry API app: /v2/ views, metadata models, domain services and access control."""
from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class RegistryApiConfig(AppConfig):
    name = "registry_api"
    verbose_name = "Registry"

    def ready(self) -> None:
        from .auth.bootstrap import ensure_admin
        from .events import signals

        post_migrate.connect(ensure_admin, sender=self)
        signals.connect()
        checks.register(check_auth_settings)
        checks.register(check_housekeeping_settings)


def check_auth_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from django.conf import settings

    messages = []
    if not settings.REGISTRY_AUTH_ENABLED:
        messages.append(
            checks.Warning(
                "REGISTRY_AUTH_ENABLED is off: anyone who can reach the registry may push and delete.",
                id="registry_api.W001",
            )
        )
    if settings.REGISTRY_TOKEN_TTL < 60:
        messages.append(
            checks.Error("REGISTRY_TOKEN_TTL must be at least 60 seconds.", id="registry_api.E001")
        )
    return messages


def check_housekeeping_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from django.conf import settings

    messages = []
    if settings.REGISTRY_GC_GRACE_PERIOD < 60:
        # Below a minute, a client pushing its layers then its manifest could see the
        # layers collected in between (services/gc/); 0 is for tests and one-off runs
        # (`manage.py gc --grace-period 0`), never for a serving registry.
        messages.append(checks.Error(
            "REGISTRY_GC_GRACE_PERIOD must be at least 60 seconds.", id="registry_api.E002"))
    if settings.REGISTRY_UPLOAD_PURGE_AGE < 3600:
        messages.append(checks.Error(
            "REGISTRY_UPLOAD_PURGE_AGE must be at least 3600 seconds: slow pushes would lose their uploads.",
            id="registry_api.E003"))
    return messages
