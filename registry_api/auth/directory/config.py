"""REGISTRY_LDAP_* settings turned into django-auth-ldap's, and their coherence checks.

django-auth-ldap reads AUTH_LDAP_* names from the settings module; here they are built from
our own settings instead, so every value comes from the environment the way the rest of
the registry's does, and a test's `settings` fixture changes them at once.
"""
from __future__ import annotations

import os

from django.conf import settings

# REGISTRY_LDAP_GROUP_TYPE -> (django-auth-ldap group type, the object class of its groups).
GROUP_TYPES = {
    "groupOfNames": ("GroupOfNamesType", "groupOfNames"),
    "nestedGroupOfNames": ("NestedGroupOfNamesType", "groupOfNames"),
    "groupOfUniqueNames": ("GroupOfUniqueNamesType", "groupOfUniqueNames"),
    "posixGroup": ("PosixGroupType", "posixGroup"),
    # Active Directory: the groups whose `member` holds the user (what `memberOf` mirrors);
    # "nested" also follows groups within groups.
    "activeDirectory": ("ActiveDirectoryGroupType", "group"),
    "nestedActiveDirectory": ("NestedActiveDirectoryGroupType", "group"),
}
SCOPES = ("subtree", "onelevel")
# Settings that mean nothing without REGISTRY_LDAP_URI.
NEED_URI = (
    "REGISTRY_LDAP_BIND_DN", "REGISTRY_LDAP_BIND_PASSWORD", "REGISTRY_LDAP_USER_BASE", "REGISTRY_LDAP_CA_FILE",
    "REGISTRY_LDAP_GROUP_BASE", "REGISTRY_LDAP_REQUIRE_GROUP", "REGISTRY_LDAP_STAFF_GROUP",
    "REGISTRY_LDAP_SUPERUSER_GROUP", "REGISTRY_LDAP_START_TLS",
)
# Group DNs that are looked up under REGISTRY_LDAP_GROUP_BASE.
NEED_GROUP_BASE = ("REGISTRY_LDAP_REQUIRE_GROUP", "REGISTRY_LDAP_STAFF_GROUP", "REGISTRY_LDAP_SUPERUSER_GROUP")


def directory_enabled() -> bool:
    return bool(settings.REGISTRY_LDAP_URI)


def ldap_settings() -> dict:
    """django-auth-ldap's settings (AUTH_LDAP_* without the prefix)."""
    import ldap
    from django_auth_ldap import config

    scope = ldap.SCOPE_ONELEVEL if settings.REGISTRY_LDAP_USER_SCOPE == "onelevel" else ldap.SCOPE_SUBTREE
    attrs = {"email": settings.REGISTRY_LDAP_EMAIL_ATTR, "first_name": settings.REGISTRY_LDAP_FIRST_NAME_ATTR,
             "last_name": settings.REGISTRY_LDAP_LAST_NAME_ATTR}
    options = {
        # One attempt per server, bounded: a slow directory is "unavailable", not a hang.
        ldap.OPT_NETWORK_TIMEOUT: settings.REGISTRY_LDAP_TIMEOUT,
        ldap.OPT_TIMEOUT: settings.REGISTRY_LDAP_TIMEOUT,
        ldap.OPT_REFERRALS: 0,  # AD answers searches of a domain root with referrals
        ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND,
    }
    if settings.REGISTRY_LDAP_CA_FILE:
        options[ldap.OPT_X_TLS_CACERTFILE] = settings.REGISTRY_LDAP_CA_FILE
    options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options above to this connection
    result = {
        "SERVER_URI": settings.REGISTRY_LDAP_URI,
        "START_TLS": settings.REGISTRY_LDAP_START_TLS,
        "CONNECTION_OPTIONS": options,
        "BIND_DN": settings.REGISTRY_LDAP_BIND_DN,
        "BIND_PASSWORD": settings.REGISTRY_LDAP_BIND_PASSWORD,
        "USER_SEARCH": config.LDAPSearch(settings.REGISTRY_LDAP_USER_BASE, scope, settings.REGISTRY_LDAP_USER_FILTER),
        "USER_ATTR_MAP": {field: attr for field, attr in attrs.items() if attr},
        "ALWAYS_UPDATE_USER": True,
    }
    if settings.REGISTRY_LDAP_GROUP_BASE:
        type_name, object_class = GROUP_TYPES[settings.REGISTRY_LDAP_GROUP_TYPE]
        group_filter = settings.REGISTRY_LDAP_GROUP_FILTER or f"(objectClass={object_class})"
        flags = {"is_staff": settings.REGISTRY_LDAP_STAFF_GROUP, "is_superuser": settings.REGISTRY_LDAP_SUPERUSER_GROUP}
        result.update(
            GROUP_SEARCH=config.LDAPSearch(settings.REGISTRY_LDAP_GROUP_BASE, ldap.SCOPE_SUBTREE, group_filter),
            GROUP_TYPE=getattr(config, type_name)(),
            # The user's Django groups become exactly their directory groups at each sign-in,
            # so grants to a group follow membership in the directory.
            MIRROR_GROUPS=True,
            REQUIRE_GROUP=settings.REGISTRY_LDAP_REQUIRE_GROUP or None,
            USER_FLAGS_BY_GROUP={flag: dn for flag, dn in flags.items() if dn},
        )
    return result


def configuration_errors() -> list[tuple[str, str]]:
    """(setting, what is wrong) for every incoherent REGISTRY_LDAP_* value."""
    errors = []
    if not settings.REGISTRY_LDAP_URI:
        return [(name, f"{name} is set but REGISTRY_LDAP_URI is empty, so the directory is off")
                for name in NEED_URI if getattr(settings, name)]
    uris = settings.REGISTRY_LDAP_URI.split()
    if not all(uri.startswith(("ldap://", "ldaps://")) for uri in uris):
        errors.append(("REGISTRY_LDAP_URI", "REGISTRY_LDAP_URI must be ldap:// or ldaps:// URIs"))
    if settings.REGISTRY_LDAP_START_TLS and any(uri.startswith("ldaps://") for uri in uris):
        errors.append(("REGISTRY_LDAP_START_TLS", "REGISTRY_LDAP_START_TLS is for ldap:// URIs; ldaps:// is TLS already"))
    if bool(settings.REGISTRY_LDAP_BIND_DN) != bool(settings.REGISTRY_LDAP_BIND_PASSWORD):
        missing = "REGISTRY_LDAP_BIND_PASSWORD" if settings.REGISTRY_LDAP_BIND_DN else "REGISTRY_LDAP_BIND_DN"
        errors.append((missing, f"{missing} is needed with the other half of the service account"))
    if not settings.REGISTRY_LDAP_USER_BASE:
        errors.append(("REGISTRY_LDAP_USER_BASE", "REGISTRY_LDAP_USER_BASE is needed to find users"))
    if "%(user)s" not in settings.REGISTRY_LDAP_USER_FILTER:
        errors.append(("REGISTRY_LDAP_USER_FILTER", "REGISTRY_LDAP_USER_FILTER must contain %(user)s"))
    if settings.REGISTRY_LDAP_USER_SCOPE not in SCOPES:
        errors.append(("REGISTRY_LDAP_USER_SCOPE", f"REGISTRY_LDAP_USER_SCOPE must be one of {', '.join(SCOPES)}"))
    if settings.REGISTRY_LDAP_GROUP_TYPE not in GROUP_TYPES:
        errors.append(("REGISTRY_LDAP_GROUP_TYPE", f"REGISTRY_LDAP_GROUP_TYPE must be one of {', '.join(GROUP_TYPES)}"))
    if not settings.REGISTRY_LDAP_GROUP_BASE:
        errors += [(name, f"{name} needs REGISTRY_LDAP_GROUP_BASE, where groups are looked up")
                   for name in NEED_GROUP_BASE if getattr(settings, name)]
    if settings.REGISTRY_LDAP_CA_FILE and not os.access(settings.REGISTRY_LDAP_CA_FILE, os.R_OK):
        errors.append(("REGISTRY_LDAP_CA_FILE", "REGISTRY_LDAP_CA_FILE is not a readable file"))
    for name in ("REGISTRY_LDAP_TIMEOUT", "REGISTRY_LDAP_MAX_FAILED_BINDS", "REGISTRY_LDAP_FAILED_BINDS_WINDOW"):
        if getattr(settings, name) < 1:
            errors.append((name, f"{name} must be at least 1"))
    if settings.REGISTRY_LDAP_CACHE_SECONDS < 0:
        errors.append(("REGISTRY_LDAP_CACHE_SECONDS", "REGISTRY_LDAP_CACHE_SECONDS must be 0 or more"))
    return errors
