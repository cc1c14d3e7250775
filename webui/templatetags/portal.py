"""Small display filters for the portal's templates."""
from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

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
