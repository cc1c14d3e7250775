"""Configuring proxy and group namespaces (the admin's forms and the management API): the
upstream password rule and a group's ordered members. Saving goes through the models'
`full_clean` (a namespace is hosted, a proxy or a group, never two); the routing cache
is cleared by the models' signals (services/routing.py)."""
from __future__ import annotations

from django.db import transaction

from ..models import GroupMember, GroupNamespace
from ..proxy.credentials import password_encrypt


def stored_password_apply(*, holder, password: str = "", clear: bool = False, password_env: str = "") -> None:
    """Credentials for another registry (a proxy's upstream, a replication remote): a new
    password is stored encrypted; `clear`, or naming an environment variable instead,
    forgets the stored one. The caller validates and saves `holder`."""
    if clear or password_env:
        holder.password_encrypted = ""
    if password:
        holder.password_encrypted = password_encrypt(password)


def group_members_set(*, group: GroupNamespace, namespaces: list[str]) -> list[GroupMember]:
    """Replace the group's members with `namespaces`, asked in this order; each member is
    validated (groups do not nest). ValidationError leaves the old members in place."""
    members = [GroupMember(group=group, position=position, namespace=name) for position, name in enumerate(namespaces)]
    for member in members:
        member.full_clean(exclude=["group"])
    with transaction.atomic():
        GroupMember.objects.filter(group=group).delete()
        for member in members:  # saved one by one: each save clears the routing cache
            member.save()
    return members
