"""First start creates the `admin` superuser, once."""
from __future__ import annotations

import stat

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User

from registry_api.auth.bootstrap import ensure_admin

pytestmark = pytest.mark.django_db


def test_random_password_is_written_to_a_private_file(settings, tmp_path):
    User.objects.all().delete()
    settings.REGISTRY_ADMIN_PASSWORD = ""
    ensure_admin()
    path = tmp_path / "admin.password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 16
    user = authenticate(username="admin", password=password)
    assert user is not None and user.is_superuser


def test_password_from_settings_and_nothing_when_users_exist(settings, tmp_path):
    User.objects.all().delete()
    settings.REGISTRY_ADMIN_PASSWORD = "given-password"
    ensure_admin()
    assert authenticate(username="admin", password="given-password") is not None
    assert not (tmp_path / "admin.password").exists()
    settings.REGISTRY_ADMIN_PASSWORD = "another"
    ensure_admin()
    assert User.objects.count() == 1
    assert authenticate(username="admin", password="given-password") is not None
