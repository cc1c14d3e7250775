"""The registry API app: /v2/ views, metadata models, domain services and access control."""
import re

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class RegistryApiConfig(AppConfig):
    name = "registry_api"
    verbose_name = "Registry"

    def ready(self) -> None:
        from .auth.bootstrap import ensure_admin
        from .events import signals

        from .proxy import signals as proxy_signals

        post_migrate.connect(ensure_admin, sender=self)
        signals.connect()
        proxy_signals.connect()
        checks.register(check_auth_settings)
        checks.register(check_housekeeping_settings)
        checks.register(check_api_settings)
        checks.register(check_proxy_settings)
        checks.register(check_directory_settings)
        checks.register(check_oidc_settings)


def check_auth_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from django.conf import settings

    messages = []
    if not settings.REGISTRY_AUTH_ENABLED:
        messages.append(
            checks.Warning(
                "REGISTRY_AUTH_ENABLED is off: anyone who can reach the registry may push and delete.",
                id="registry_api.W001",
            )
        )
    if settings.REGISTRY_TOKEN_TTL < 60:
        messages.append(
            checks.Error("REGISTRY_TOKEN_TTL must be at least 60 seconds.", id="registry_api.E001")
        )
    if settings.REGISTRY_TOKEN_KEY:
        from .auth.tokens import load_key

        try:
            load_key(settings.REGISTRY_TOKEN_KEY.encode())
        except ValueError as exc:
            messages.append(checks.Error(
                f"REGISTRY_TOKEN_KEY is {exc}.",
                hint="openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt",
                id="registry_api.E004",
            ))
    return messages


def check_housekeeping_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from django.conf import settings

    messages = []
    if settings.REGISTRY_GC_GRACE_PERIOD < 60:
        # Below a minute, a client pushing its layers then its manifest could see the
        # layers collected in between (services/gc/); 0 is for tests and one-off runs
        # (`manage.py gc --grace-period 0`), never for a serving registry.
        messages.append(checks.Error(
            "REGISTRY_GC_GRACE_PERIOD must be at least 60 seconds.", id="registry_api.E002"))
    if settings.REGISTRY_UPLOAD_PURGE_AGE < 3600:
        messages.append(checks.Error(
            "REGISTRY_UPLOAD_PURGE_AGE must be at least 3600 seconds: slow pushes would lose their uploads.",
            id="registry_api.E003"))
    return messages


def check_api_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from django.conf import settings

    messages = []
    for name in ("REGISTRY_PAGE_MAX", "REGISTRY_REFERRERS_PAGE_MAX"):
        if getattr(settings, name) < 1:
            # Pages of nothing would carry no Link either: clients would see empty lists.
            messages.append(checks.Error(f"{name} must be at least 1.", id="registry_api.E004"))
    return messages


def check_proxy_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from django.conf import settings

    from .oci.reference import NAME_COMPONENT

    messages = []
    if settings.REGISTRY_PROXY_FETCH_STALE < 15:
        # A fetch beats every few seconds; below this a slow upstream looks dead and is
        # fetched a second time by whoever comes next.
        messages.append(checks.Error("REGISTRY_PROXY_FETCH_STALE must be at least 15 seconds.", id="registry_api.E006"))
    names = [settings.REGISTRY_MIRROR_PROXY] if settings.REGISTRY_MIRROR_PROXY else []
    for name in [*names, *settings.REGISTRY_MIRROR_NS.values()]:
        if not re.fullmatch(NAME_COMPONENT, name):
            messages.append(checks.Error(f"{name!r} is not a proxy namespace name (REGISTRY_MIRROR_PROXY / "
                                         "REGISTRY_MIRROR_NS).", id="registry_api.E007"))
    if settings.REGISTRY_MIRROR_UNHOSTED and not settings.REGISTRY_MIRROR_PROXY:
        messages.append(checks.Warning("REGISTRY_MIRROR_UNHOSTED does nothing without REGISTRY_MIRROR_PROXY.",
                                       id="registry_api.W002"))
    return messages


def check_directory_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Incoherent REGISTRY_LDAP_* settings stop `migrate` (and so the service's start),
    naming the setting, rather than leaving sign-in half configured."""
    from .auth.directory.config import configuration_errors

    return [checks.Error(message, obj=name, hint="docs/directory.md", id="registry_api.E008")
            for name, message in configuration_errors()]


def check_oidc_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """OpenID Connect settings that cannot work together (registry_api/auth/oidc.py)."""
    from urllib.parse import urlsplit

    from django.conf import settings

    issuer = settings.REGISTRY_OIDC_ISSUER
    messages = []
    if not issuer:
        for name in ("REGISTRY_OIDC_CLIENT_ID", "REGISTRY_OIDC_CLIENT_SECRET"):
            if getattr(settings, name):
                messages.append(checks.Error(f"{name} is set but REGISTRY_OIDC_ISSUER is not.",
                                             hint="Set the provider's issuer URL, or unset it.", id="registry_api.E101"))
        return messages
    if urlsplit(issuer).scheme not in ("https", "http") or not urlsplit(issuer).hostname:
        messages.append(checks.Error(f"REGISTRY_OIDC_ISSUER {issuer!r} is not an http(s) URL.", id="registry_api.E102"))
    if not settings.REGISTRY_OIDC_CLIENT_ID:
        messages.append(checks.Error("REGISTRY_OIDC_ISSUER is set but REGISTRY_OIDC_CLIENT_ID is not.",
                                     hint="The client id registered for this registry at the provider.",
                                     id="registry_api.E103"))
    if "openid" not in settings.REGISTRY_OIDC_SCOPES.split():
        messages.append(checks.Error("REGISTRY_OIDC_SCOPES must include openid.", id="registry_api.E104"))
    if not settings.REGISTRY_OIDC_USERNAME_CLAIM:
        messages.append(checks.Error("REGISTRY_OIDC_USERNAME_CLAIM is empty.", hint="preferred_username, email or sub.",
                                     id="registry_api.E105"))
    granting = settings.REGISTRY_OIDC_STAFF_GROUPS or settings.REGISTRY_OIDC_SUPERUSER_GROUPS
    if granting and not settings.REGISTRY_OIDC_GROUPS_CLAIM:
        messages.append(checks.Error("REGISTRY_OIDC_STAFF_GROUPS / REGISTRY_OIDC_SUPERUSER_GROUPS need "
                                     "REGISTRY_OIDC_GROUPS_CLAIM.", id="registry_api.E106"))
    return messages
