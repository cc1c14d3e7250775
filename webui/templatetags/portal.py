"""Small display filters for the portal's templates."""
from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.timesince import timesince

from registry_api.oci.imageconfig import parse_timestamp
from registry_api.templatetags.registry_units import bytes_

register = template.Library()


@register.filter
def ago(moment: datetime | None) -> str:
    """Say "3 hours ago", or "just now" within a minute (timesince would say "0 minutes")."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"


@register.filter
def short_digest(digest: str) -> str:
    """`sha256:0123456789ab`: enough to recognise a digest; the full one is in the title."""
    algorithm, _, encoded = (digest or "").partition(":")
    return f"{algorithm}:{encoded[:12]}" if encoded else digest


@register.filter
def command(value) -> str:
    """An entrypoint or cmd list as a shell-like line ("" when unset)."""
    if not value:
        return ""
    return " ".join(part if part and " " not in part else f'"{part}"' for part in value)


@register.filter
def command_or_value(value) -> str:
    """A compared config setting: lists as commands, empty as a dash."""
    if isinstance(value, list):
        return command(value) or "—"
    return value if value not in (None, "") else "—"


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key)


@register.filter
def get_index(items, index: int):
    return items[index]


# Binary units, the same filter as the admin's templates (registry_api/templatetags).
register.filter("bytes", bytes_)


@register.filter
def timestamp(value) -> datetime | None:
    """An RFC 3339 string from an image config (`created`) as a datetime, for `date`."""
    return parse_timestamp(value)


@register.filter
def visibility(repository):
    """Who may pull: the repository's own flag, its namespace's, or the registry-wide
    setting (from the list page's annotation when present, so no query per row)."""
    from registry_api.selectors.repositories import repository_visibility

    return repository_visibility(repository=repository)


@register.inclusion_tag("webui/_oidc_button.html")
def oidc_button(next_url: str = "") -> dict:
    """The "Sign in with …" link of the portal's and the admin's sign-in pages, when
    OpenID Connect is configured (registry_api/auth/oidc.py)."""
    return {"provider": settings.REGISTRY_OIDC_PROVIDER_NAME if settings.REGISTRY_OIDC_ISSUER else "",
            "next": next_url}
