"""Top-level routes: the registry API under /v2/, the admin, and the portal."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("v2/", include("registry_api.urls")),
    path("admin/", admin.site.urls),
    path("", include("webui.urls")),
]
