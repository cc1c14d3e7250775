"""Top-level routes: the registry API under /v2/, the management API under /api/v1/ (and
its older alias `DELETE /api/repositories/<name>`), the admin, and the portal."""
from django.contrib import admin
from django.urls import include, path, re_path

from management_api.urls import NAME
from management_api.views.repositories import RepositoryDeleteAlias

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
    re_path(rf"^api/repositories/{NAME}$", RepositoryDeleteAlias.as_view(), name="api_repository"),
    path("admin/", admin.site.urls),
    path("", include("webui.urls")),
]
