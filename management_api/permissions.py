"""The API's gate, written once: whether the caller is signed in (401 otherwise, with the
challenge) and whether a read-only token tries to write (403). What a caller may do on a
given namespace or repository is decided by `registry_api.auth.permissions`, through the
helpers in `access.py`."""
from __future__ import annotations

from django.conf import settings
from rest_framework import permissions

from .access import identity_of


class SignedIn(permissions.BasePermission):
    message = "a read-only token may not change anything"

    def has_permission(self, request, view) -> bool:
        identity = identity_of(request)
        if identity.is_anonymous and settings.REGISTRY_AUTH_ENABLED:
            return False  # DRF answers NotAuthenticated: 401 with the challenge
        return request.method in permissions.SAFE_METHODS or not identity.read_only


class Anyone(permissions.BasePermission):
    """Health, version, the schema and its page: no credentials needed."""

    def has_permission(self, request, view) -> bool:
        return True


class PublicRead(permissions.BasePermission):
    """What the portal shows visitors who are not signed in: reading is open, and each view
    narrows it to what anonymous may pull (`access.repository_for` answers 401 for the rest);
    any write still needs credentials."""

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return SignedIn().has_permission(request, view)
