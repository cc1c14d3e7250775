"""Robot accounts: users for machines, created with a first access token and, optionally,
a grant; more tokens; deleted with everything they held. Called by the admin's "new robot
account" form and the management API, and usable from a shell."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction

from ..auth.credentials import access_token_create
from ..models import AccessToken, Grant, Namespace, RobotAccount
from .tokens import token_create


@dataclass
class RobotCreated:
    robot: RobotAccount
    token: AccessToken
    # The token's secret: shown once, never stored.
    secret: str


def robot_create(
    *, username: str, description: str = "", namespace: Namespace | None = None, level: str = "",
    read_only: bool = False, expires_at: datetime | None = None, created_by: str = "",
) -> RobotCreated:
    """A user with an unusable password (it cannot sign in to the portal or guess-lock
    anyone), flagged as a robot, with its first token and, if `namespace` and `level`
    are given, a grant there."""
    User = get_user_model()
    with transaction.atomic():
        user = User(**{User.USERNAME_FIELD: username})
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        robot = RobotAccount.objects.create(user=user, description=description, created_by=created_by)
        if namespace is not None and level:
            Grant.objects.create(namespace=namespace, user=user, level=level)
        token, secret = access_token_create(user=user, name="first token", read_only=read_only, expires_at=expires_at)
    return RobotCreated(robot, token, secret)


def robot_token_revoke(*, robot: RobotAccount, token_id: int) -> AccessToken | None:
    """Revoke one of the robot's tokens (kept, marked revoked, so the record stays); None if
    the robot has no such token. Saved row by row so the audit trail sees it."""
    token = AccessToken.objects.filter(user=robot.user, pk=token_id).first()
    if token is not None and not token.revoked:
        token.revoked = True
        token.save(update_fields=["revoked"])
    return token


def robot_token_create(
    *, robot: RobotAccount, name: str, read_only: bool = False, expires_at: datetime | None = None,
    namespace: str = "",
) -> tuple[AccessToken, str]:
    """Another token for the robot (a second pipeline, or a rotation before revoking the
    old one), checked as a person's own tokens are; the secret is returned once."""
    return token_create(user=robot.user, name=name, read_only=read_only, expires_at=expires_at, namespace=namespace)


def robot_delete(*, robot: RobotAccount) -> None:
    """Delete the robot's user: its tokens stop working at once and its grants go with it
    (each audited by events/signals.py)."""
    robot.user.delete()
