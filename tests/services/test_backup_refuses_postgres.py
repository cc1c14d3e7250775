"""On PostgreSQL `backup` and `restore` refuse with a clear message (README: pg_dump inside
`manage.py gc_pause`); they never write a half backup. Runs in the PostgreSQL pass of CI."""
from __future__ import annotations

import pytest
from django.conf import settings

from registry_api.services.backup import BackupError, backup_create, backup_restore

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
                       reason="the SQLite pass runs tests/services/test_backup.py instead"),
]


def test_backup_and_restore_refuse_postgresql_and_write_nothing(tmp_path):
    with pytest.raises(BackupError, match="pg_dump"):
        backup_create(destination=tmp_path / "backup")
    assert not (tmp_path / "backup").exists() and not (tmp_path / "backup.partial").exists()
    (tmp_path / "src").mkdir()
    with pytest.raises(BackupError, match="pg_dump"):
        backup_restore(source=tmp_path / "src")
