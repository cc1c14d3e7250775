"""Top-level routes: the registry API under /v2/, the management API under /api/v1/, the
admin, and the portal (whose own /api/summary and /api/repositories/… stay as they are)."""
from django.contrib import admin
from django.urls import include, path

from registry_api.views.base import version_redirect
from registry_api.views.operations import healthz, metrics_view, readyz
from registry_api.views.token import token

urlpatterns = [
    path("v2/", include("registry_api.urls")),
    # Without the slash: the API's redirect, not the portal's HTML 404 (APPEND_SLASH is off).
    path("v2", version_redirect, name="version_redirect"),
    path("auth/token", token, name="token"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("management_api.urls")),
    path("admin/", admin.site.urls),
    path("", include("webui.urls")),
]
