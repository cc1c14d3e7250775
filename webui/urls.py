"""Portal routes. Repository names contain slashes; see `converters` for how routes stay
unambiguous (`/-/` before the portal's own words, digests recognised by their colon)."""
from django.urls import path, register_converter

from .converters import DigestConverter, RepositoryNameConverter, TagConverter
from .views import auth, dashboard, deletes, manifests, oidc, proxies, replication, repositories, settings, tokens

register_converter(RepositoryNameConverter, "repository_name")
register_converter(DigestConverter, "digest")
register_converter(TagConverter, "tag")

app_name = "webui"
urlpatterns = [
    path("", dashboard.home, name="home"),
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path("oidc/login/", oidc.oidc_login, name="oidc_login"),
    path("oidc/callback/", oidc.oidc_callback, name="oidc_callback"),
    path("tokens/", tokens.token_page, name="tokens"),
    path("tokens/<int:token_id>/revoke/", tokens.token_revoke_view, name="token_revoke"),
    path("repositories/", repositories.repository_list, name="repositories"),
    path("proxies/", proxies.proxy_list, name="proxies"),
    path("repositories/<repository_name:name>/", repositories.repository_detail, name="repository"),
    path("repositories/<repository_name:name>/-/compare/", repositories.compare, name="compare"),
    path("repositories/<repository_name:name>/-/delete/", deletes.repository_delete, name="repository_delete"),
    path("repositories/<repository_name:name>/-/settings/", settings.repository_settings, name="repository_settings"),
    path("repositories/<repository_name:name>/-/replication/", replication.repository_replication,
         name="repository_replication"),
    path("repositories/<repository_name:name>/-/replication/run/", replication.repository_replicate_now,
         name="repository_replicate_now"),
    path("repositories/<repository_name:name>/-/tags/<tag:tag>/delete/", deletes.tag_delete, name="tag_delete"),
    path("repositories/<repository_name:name>/manifests/<digest:digest>/", manifests.manifest_detail, name="manifest_detail"),
    path(
        "repositories/<repository_name:name>/manifests/<digest:digest>/delete/",
        deletes.manifest_delete, name="manifest_delete",
    ),
]
