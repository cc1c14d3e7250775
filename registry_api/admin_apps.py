"""django.contrib.admin's app, with our site as `admin.site` (INSTALLED_APPS names this
class). Its own module: registry_api/apps.py may hold only the registry's AppConfig, or
Django could not tell which one is the app's default.

This module and admin_site.py stay outside the admin/ package: importing anything under
registry_api/admin/ first runs its __init__, which registers the models. INSTALLED_APPS
imports this class before any model can load, and Django imports the site class while the
first registration (django.contrib.auth's, or ours) builds the default site: from inside
admin/, ours would register on a site that the one being built then replaces."""
from django.contrib.admin.apps import AdminConfig


class RegistryAdminConfig(AdminConfig):
    """The admin with its password change throttled like every other password check
    (admin_site.py)."""

    default_site = "registry_api.admin_site.RegistryAdminSite"
