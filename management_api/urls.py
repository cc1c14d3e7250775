"""Routes of /api/v1/. Repository names have slashes, so a repository's sub-resources come
after a `-` segment, as in the portal (`repositories/team/app/-/tags/`): no name component
can be `-`. A name, tag or digest the grammar refuses reaches the view and is a 400 there;
an unknown path under /api/v1/ is a JSON 404."""
from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound

from .permissions import Anyone
from .views import audit, grants, housekeeping, images, meta, namespaces, proxies, repositories, retention, robots
from .views import summary, tokens, webhooks

# A repository name as routing sees it: components that do not start with "-" (the views
# check the real grammar and answer 400).
NAME = r"(?P<name>[^/\-][^/]*(?:/[^/\-][^/]*)*)"


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([Anyone])
def unknown(request, rest: str = ""):
    raise NotFound("no such API endpoint")


class Schema(SpectacularAPIView):
    authentication_classes: list = []
    permission_classes = [Anyone]


class Docs(SpectacularSwaggerView):
    authentication_classes: list = []
    permission_classes = [Anyone]


app_name = "management_api"
urlpatterns = [
    path("schema/", Schema.as_view(), name="schema"),
    path("docs/", Docs.as_view(url_name="management_api:schema"), name="docs"),
    path("health/", meta.health, name="health"),
    path("version/", meta.version, name="version"),
    path("summary/", summary.summary, name="summary"),
    path("namespaces/", namespaces.NamespaceList.as_view(), name="namespaces"),
    path("namespaces/<str:name>/", namespaces.NamespaceDetail.as_view(), name="namespace"),
    path("namespaces/<str:name>/usage/", namespaces.NamespaceUsage.as_view(), name="namespace_usage"),
    path("namespaces/<str:name>/grants/", grants.NamespaceGrants.as_view(), name="namespace_grants"),
    path("namespaces/<str:name>/grants/<int:grant_id>/", grants.NamespaceGrant.as_view(), name="namespace_grant"),
    path("repositories/", repositories.RepositoryList.as_view(), name="repositories"),
    re_path(rf"^repositories/{NAME}/-/grants/$", grants.RepositoryGrants.as_view(), name="repository_grants"),
    re_path(rf"^repositories/{NAME}/-/grants/(?P<grant_id>[0-9]+)/$", grants.RepositoryGrant.as_view(),
            name="repository_grant"),
    re_path(rf"^repositories/{NAME}/-/tags/$", images.TagList.as_view(), name="tags"),
    re_path(rf"^repositories/{NAME}/-/tags/(?P<tag>[^/]+)/$", images.TagDetail.as_view(), name="tag"),
    re_path(rf"^repositories/{NAME}/-/manifests/(?P<digest>[^/]+)/$", images.ManifestDetail.as_view(),
            name="manifest"),
    re_path(rf"^repositories/{NAME}/$", repositories.RepositoryDetail.as_view(), name="repository"),
    path("robots/", robots.RobotList.as_view(), name="robots"),
    path("robots/<str:name>/", robots.RobotDetail.as_view(), name="robot"),
    path("robots/<str:name>/tokens/", robots.RobotTokens.as_view(), name="robot_tokens"),
    path("robots/<str:name>/tokens/<int:token_id>/", robots.RobotToken.as_view(), name="robot_token"),
    path("tokens/", tokens.TokenList.as_view(), name="tokens"),
    path("tokens/<int:token_id>/", tokens.TokenDetail.as_view(), name="token"),
    path("retention-policies/", retention.PolicyList.as_view(), name="retention_policies"),
    path("retention-policies/<int:pk>/", retention.PolicyDetail.as_view(), name="retention_policy"),
    path("retention-policies/<int:pk>/dry-run/", retention.PolicyDryRun.as_view(), name="retention_dry_run"),
    path("gc/preview/", housekeeping.GcPreview.as_view(), name="gc_preview"),
    path("gc/runs/", housekeeping.GcRuns.as_view(), name="gc_runs"),
    path("webhooks/", webhooks.WebhookList.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", webhooks.WebhookDetail.as_view(), name="webhook"),
    path("webhooks/<int:pk>/deliveries/", webhooks.Deliveries.as_view(), name="webhook_deliveries"),
    path("webhooks/<int:pk>/deliveries/<int:delivery_id>/redeliver/", webhooks.Redeliver.as_view(),
         name="webhook_redeliver"),
    path("proxies/", proxies.ProxyList.as_view(), name="proxies"),
    path("proxies/<str:name>/", proxies.ProxyDetail.as_view(), name="proxy"),
    path("groups/", proxies.GroupList.as_view(), name="groups"),
    path("groups/<str:name>/", proxies.GroupDetail.as_view(), name="group"),
    path("audit-events/", audit.AuditEventList.as_view(), name="audit_events"),
    re_path(r"^audit-events/export\.(?P<kind>jsonl|csv)$", audit.AuditEventExport.as_view(), name="audit_export"),
    re_path(r"^(?P<rest>.*)$", unknown),
]
