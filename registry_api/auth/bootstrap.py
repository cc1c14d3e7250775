"""First start: an `admin` superuser, so `make run` is followed directly by `docker login`.

Runs after `migrate` (post_migrate). The password is REGISTRY_ADMIN_PASSWORD, or a random
one written to `<data dir>/admin.password` (mode 0600) and logged once, as Nexus does.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

logger = logging.getLogger(__name__)


def ensure_admin(**kwargs) -> None:
    User = get_user_model()
    if User.objects.exists():
        return
    password = settings.REGISTRY_ADMIN_PASSWORD
    if not password:
        password = secrets.token_urlsafe(18)
        path = Path(settings.DATA_DIR) / "admin.password"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        # Shown once so the operator can log in; it stays readable only in the 0600 file.
        logger.warning("created superuser 'admin' with password %s (also in %s)", password, path)
    else:
        logger.warning("created superuser 'admin' with the password from REGISTRY_ADMIN_PASSWORD")
    User.objects.create_superuser("admin", email="", password=password)
