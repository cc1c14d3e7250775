"""How the OpenAPI document describes the API's authentication (drf-spectacular finds
these extensions by the class they name; apps.py imports this module)."""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = "management_api.authentication.AccessTokenAuthentication"
    name = "accessToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "bearer", "description": "an access token (drm_…) of a user or robot"}


class BasicScheme(OpenApiAuthenticationExtension):
    target_class = "management_api.authentication.BasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "basic", "description": "user with an access token or password"}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "management_api.authentication.PortalSessionAuthentication"
    name = "portalSession"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "the portal's session; writes need the X-CSRFToken header"}
