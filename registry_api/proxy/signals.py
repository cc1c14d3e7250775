"""Saving or deleting a proxy, a group or a member takes effect at once in this process
(other processes re-read within REGISTRY_PROXY_CONFIG_TTL seconds)."""
from __future__ import annotations

from django.db.models.signals import post_delete, post_save


def connect() -> None:
    from ..models import GroupMember, GroupNamespace, ProxyNamespace
    from ..services.routing import config_cache_clear

    for model in (ProxyNamespace, GroupNamespace, GroupMember):
        post_save.connect(config_cache_clear, sender=model, dispatch_uid=f"proxy-config-save-{model.__name__}")
        post_delete.connect(config_cache_clear, sender=model, dispatch_uid=f"proxy-config-delete-{model.__name__}")
