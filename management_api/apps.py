"""The management API's app."""
from django.apps import AppConfig


class ManagementApiConfig(AppConfig):
    name = "management_api"
    verbose_name = "Management API"

    def ready(self) -> None:
        from . import schema  # noqa: F401  registers the authentication schemes
