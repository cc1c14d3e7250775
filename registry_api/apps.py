"""The registry API app: /v2/ views, metadata models and the domain services."""
from django.apps import AppConfig


class RegistryApiConfig(AppConfig):
    name = "registry_api"
    verbose_name = "Registry"
