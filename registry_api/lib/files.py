"""Files of the data directory that only the registry's own user may read: the database
(password hashes) and the generated secrets. No Django here: settings.py uses it before
the apps are loaded."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def create_private(path: Path) -> Path:
    """Create `path` empty with mode 0600 unless it exists.

    Done before SQLite first opens its database, so the file (and its -wal and -shm files,
    which SQLite creates with the database's mode) is not world-readable under umask 022.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


def write_once(path: Path, make) -> bytes:
    """The bytes of `path`, first written from `make()` (mode 0600) when it does not exist.

    Written to a temporary file and hard-linked into place, so workers starting together
    all end up with the one value that won.
    """
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent)  # mode 0600
        with os.fdopen(fd, "wb") as f:
            f.write(make())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_bytes()
