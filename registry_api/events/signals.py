"""Audit rows for logins and for every change to who may do what (grants, public flags,
tokens, users and their groups), to what retention deletes, to where webhooks send and to
what proxy and group namespaces are, whether made in the admin, the portal, the management
API or a shell."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_delete

from .audit import record


def _permission_change(sender, instance, created=None, update_fields=None, **kwargs) -> None:
    if update_fields and set(update_fields) <= {"last_login", "last_used_at", "password"}:
        return  # bookkeeping, not a change of rights
    if sender.__name__ == "Repository" and created:
        return  # repositories come into being by a push, which is audited as such
    verb = "deleted" if kwargs.get("signal") is pre_delete else ("created" if created else "changed")
    record(action="permission", target=f"{sender.__name__} {instance}"[:300], detail={"change": verb})


def _groups_changed(sender, instance, action, pk_set, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        names = sorted(Group.objects.filter(pk__in=pk_set or []).values_list("name", flat=True))
        record(action="permission", target=f"User {instance}", detail={"change": action[5:], "groups": names})


def _portal_login(sender, request, user, **kwargs) -> None:
    record(action="login", actor=user.get_username(), detail={"via": "portal"})


def _password_login_failed(sender, credentials, request=None, **kwargs) -> None:
    """Any wrong password checked by Django: the portal's login form and registry clients."""
    record(action="login_failed", actor=str(credentials.get("username", ""))[:150], detail={"via": "password"})


def connect() -> None:
    from ..models import AccessToken, Grant, GroupNamespace, Namespace, ProxyNamespace, Repository, RetentionPolicy
    from ..models import Webhook

    audited = (Grant, Namespace, Repository, AccessToken, RetentionPolicy, Webhook, ProxyNamespace, GroupNamespace)
    for model in (*audited, get_user_model(), Group):
        post_save.connect(_permission_change, sender=model, dispatch_uid=f"audit-save-{model.__name__}")
        # Before the delete, not after: a cascade (a namespace with its grants and tokens) has
        # removed the rows these names read by post_delete. The delete's transaction also
        # holds this line, so it goes if the delete fails.
        pre_delete.connect(_permission_change, sender=model, dispatch_uid=f"audit-delete-{model.__name__}")
    m2m_changed.connect(_groups_changed, sender=get_user_model().groups.through, dispatch_uid="audit-groups")
    user_logged_in.connect(_portal_login, dispatch_uid="audit-login")
    user_login_failed.connect(_password_login_failed, dispatch_uid="audit-login-failed")
