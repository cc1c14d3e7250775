"""django.contrib.admin's app, with our site as `admin.site` (INSTALLED_APPS names this
class). Its own module: registry_api/apps.py may hold only the registry's AppConfig, or
Django could not tell which one is the app's default."""
from django.contrib.admin.apps import AdminConfig


class RegistryAdminConfig(AdminConfig):
    """The admin with its password change throttled like every other password check
    (admin_site.py)."""

    default_site = "registry_api.admin_site.RegistryAdminSite"
