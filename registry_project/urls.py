"""Top-level routes: the registry API under /v2/, the admin, and the portal."""
from django.contrib import admin
from django.urls import include, path

from registry_api.views.operations import healthz, metrics_view, readyz
from registry_api.views.token import token

urlpatterns = [
    path("v2/", include("registry_api.urls")),
    path("auth/token", token, name="token"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("webui.urls")),
]
