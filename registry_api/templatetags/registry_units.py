"""`{{ count|bytes }}`: byte counts in binary units (KiB, MiB, GiB), the one formatter of the
portal, the admin pages and the commands (`registry_api.lib.units.format_bytes`). Django's
filesizeformat says "KB" for 1024 bytes."""
from __future__ import annotations

from django import template

from ..lib.units import format_bytes

register = template.Library()


@register.filter(name="bytes")
def bytes_(count) -> str:
    return format_bytes(int(count or 0))
