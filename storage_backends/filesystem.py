"""Content-addressed blob storage on a local filesystem.

Layout under the root directory (the registry's data directory):

    blobs/
      sha256/
        ab/
          abcdef0123…        one file per blob, named by its digest, immutable
    uploads/
      <uuid>                 bytes staged so far for one upload session
      <uuid>/data            the same, as versions before 2026-12 staged them (still read)

Uploads stage on the same filesystem as the blobs, so a commit is fsync + rename: a blob
file either is complete and verified or does not exist. Two sessions committing the same
content both succeed and leave one file. The staging file is the whole upload state, so
a session may continue in any process; its length is the offset. One file, not a
directory per session: creating and removing a directory cost ~0.6 ms of each blob pushed.

Permissions: `blobs/`, its directories and blob files are always group-readable, whatever
the umask, so a web server in the registry's group can send them (nginx X-Accel-Redirect);
everything else (uploads in progress, the database, the keys) keeps the process's umask,
which deploy/registry.service sets to 0077.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Literal

from .base import BlobInfo, BlobNotFound, DigestMismatch, InvalidOffset, StoredItem, UploadNotFound
from .common import (
    HasherCache, blob_relative_key, canonical_upload_id, digest_from_relative_key, hash_stream, is_canonical_upload_id,
)
from .offload import off_the_loop
from .writeback import WRITEBACK_STEP, start_writeback


# The staging file's name inside a session directory (the layout before 2026-12).
_LEGACY_DATA = "data"


def _fsync(path: Path) -> None:
    """fsync a directory (or file) by path, where the caller runs: off the loop already."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# What the web server's group needs: read files, list and traverse directories.
_GROUP_READ_FILE = stat.S_IRGRP
_GROUP_READ_DIR = stat.S_IRGRP | stat.S_IXGRP


def _group_readable_dirs(directory: Path, top: Path) -> None:
    """Create `directory` (and its parents up to `top`) and let the group read them."""
    directory.mkdir(parents=True, exist_ok=True)
    while True:
        mode = directory.stat().st_mode
        if mode & _GROUP_READ_DIR != _GROUP_READ_DIR:
            os.chmod(directory, stat.S_IMODE(mode) | _GROUP_READ_DIR)
        if directory == top or top not in directory.parents:
            return
        directory = directory.parent


def _hash_file(path: Path, algorithm: str) -> str:
    with open(path, "rb", buffering=0) as f:
        return hash_stream(f, algorithm)


class FilesystemUploadWriter:
    def __init__(self, storage: "FilesystemStorage", upload_id: str, path: Path, hasher, algorithm: str) -> None:
        self._storage = storage
        self._upload_id = upload_id
        self._path = path
        # Never O_CREAT: a staging file cancelled meanwhile must not come back as an orphan.
        self._file = open(os.open(path, os.O_WRONLY | os.O_APPEND), "ab", buffering=0)
        self._size = self._file.seek(0, os.SEEK_END)
        self._written_back = self._size  # below this, the disk write has been started
        # None once the running hash no longer covers the whole staged file.
        if hasher is None and self._size == 0:
            hasher = hashlib.new(algorithm)
        self._hasher = hasher

    @property
    def size(self) -> int:
        return self._size

    def write(self, chunk: bytes) -> None:
        off_the_loop(self._write, chunk)  # the hash too: it releases the GIL

    def _write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            written = self._file.write(view)
            view = view[written:]
        self._size += len(chunk)
        if self._size - self._written_back >= WRITEBACK_STEP:
            start_writeback(self._file.fileno(), self._written_back, self._size - self._written_back)
            self._written_back = self._size
        if self._hasher is not None:
            self._hasher.update(chunk)

    def truncate(self, size: int) -> None:
        if size < 0 or size > self._size:
            raise InvalidOffset(size)
        if size == self._size:
            return
        self._file.truncate(size)  # appends continue at the new end ("ab" mode)
        self._size = size
        self._written_back = min(self._written_back, size)
        # The running hash covered the dropped bytes and cannot be rewound: re-hash at commit
        # (refusals are rare; copying the hasher before every chunk would cost every push).
        self._hasher = None

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
            if self._hasher is not None:
                self._storage._hashers.put(self._upload_id, self._size, self._hasher)

    def commit(self, expected_digest: str) -> BlobInfo:
        algorithm = expected_digest.partition(":")[0]
        if self._hasher is not None and self._hasher.name == algorithm:
            actual = f"{algorithm}:{self._hasher.hexdigest()}"
        else:
            actual = off_the_loop(_hash_file, self._path, algorithm)
        if actual != expected_digest:
            self.cancel()  # never flushed to the disk: it is dropped
            raise DigestMismatch(expected_digest, actual)
        off_the_loop(self._publish, self._storage._blob_path(expected_digest))
        self._file.close()
        self._storage._hashers.drop(self._upload_id)
        if self._path.name == _LEGACY_DATA:
            try:
                os.rmdir(self._path.parent)  # empty now: cheaper than rmtree's walk
            except OSError:
                self._storage.cancel_upload(self._upload_id)
        return BlobInfo(size=self._size)

    def _publish(self, target: Path) -> None:
        """Make the verified file durable, move it to its blob path and make the rename
        durable. All of it on one of the pool's threads, in one trip: while 64 pushes end
        at once, each flushing its blob, a rename, a chmod or a directory's fsync can wait
        on the disk for tens of ms, and in the loop every connection of the worker would
        wait with it (a probe's p99 over the 64 pushes halved once none of it ran there;
        docs/performance.md, "Many clients")."""
        os.fdatasync(self._file.fileno())
        os.chmod(self._path, stat.S_IMODE(os.stat(self._path).st_mode) | _GROUP_READ_FILE)
        self._storage._blob_dir_ready(target.parent)
        try:
            os.replace(self._path, target)
        except FileNotFoundError:  # the directory was removed behind this process's back
            self._storage._blob_dir_ready(target.parent, again=True)
            os.replace(self._path, target)
        _fsync(target.parent)

    def cancel(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._storage.cancel_upload(self._upload_id)


class FilesystemStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._blobs = self.root / "blobs"
        self._uploads = self.root / "uploads"
        self._hashers = HasherCache()
        # Blob directories this process made group-readable (they are never removed).
        self._ready_dirs: set[Path] = set()

    @classmethod
    def from_settings(cls, settings) -> "FilesystemStorage":
        return cls(settings.DATA_DIR)

    def check(self) -> None:
        """Write, fsync and delete a probe file in each area. os.access() only reads mode
        bits: it is wrong for root, a full disk, a read-only or vanished mount."""
        _group_readable_dirs(self._blobs, self._blobs)
        self._uploads.mkdir(parents=True, exist_ok=True)
        for directory in (self._blobs, self._uploads):
            fd, probe = tempfile.mkstemp(prefix=".probe-", dir=directory)
            try:
                os.write(fd, b"probe")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(probe)

    def _blob_dir_ready(self, directory: Path, again: bool = False) -> None:
        """`directory` exists and the web server's group may read it, checked once per process."""
        if again or directory not in self._ready_dirs:
            _group_readable_dirs(directory, self._blobs)
            self._ready_dirs.add(directory)

    # -- paths, derived only from validated values ------------------------------------
    def _blob_path(self, digest: str) -> Path:
        return self._blobs / blob_relative_key(digest)

    def _upload_path(self, upload_id: str) -> Path:
        """The session's staging file: `uploads/<uuid>`, or `uploads/<uuid>/data` for a
        session staged by an earlier version (a directory of that name)."""
        path = self._uploads / canonical_upload_id(upload_id)
        return path / _LEGACY_DATA if path.is_dir() else path

    # -- blobs ---------------------------------------------------------------------------
    def open(self, digest: str, offset: int = 0) -> BinaryIO:
        path = self._blob_path(digest)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        if offset:
            if offset < 0 or offset > os.fstat(f.fileno()).st_size:
                f.close()
                raise InvalidOffset(offset)
            f.seek(offset)
        return f

    def stat(self, digest: str) -> BlobInfo | None:
        try:
            return BlobInfo(size=self._blob_path(digest).stat().st_size)
        except (FileNotFoundError, BlobNotFound):
            return None

    def delete(self, digest: str) -> None:
        try:
            self._blob_path(digest).unlink()
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def redirect_url(self, digest: str) -> str | None:
        return None

    def relative_path(self, digest: str) -> str:
        """The blob's path below the `blobs/` directory, for a web server's internal
        redirect (nginx X-Accel-Redirect) that serves the file itself."""
        return self._blob_path(digest).relative_to(self._blobs).as_posix()

    # -- housekeeping ----------------------------------------------------------------------
    def walk(self, area: Literal["blobs", "uploads"]) -> Iterator[StoredItem]:
        if area == "blobs":
            yield from self._walk_blobs()
        elif area == "uploads":
            yield from self._walk_uploads()
        else:
            raise ValueError(f"unknown storage area {area!r}")

    def _walk_blobs(self) -> Iterator[StoredItem]:
        # Only names that are digests in their right directory: anything else (an editor's
        # backup file, a half-copied restore) is not a blob and is never reported as one.
        for path in self._blobs.glob("*/*/*"):
            digest = digest_from_relative_key(path.relative_to(self._blobs).as_posix())
            if digest is None:
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue  # deleted while we walked
            yield StoredItem(digest, st.st_size, st.st_mtime)

    def _walk_uploads(self) -> Iterator[StoredItem]:
        if not self._uploads.is_dir():
            return
        for directory in self._uploads.iterdir():
            if not is_canonical_upload_id(directory.name):
                continue
            canonical = directory.name
            try:
                st = directory.stat()
                if stat.S_ISDIR(st.st_mode):
                    st = (directory / _LEGACY_DATA).stat()
            except FileNotFoundError:
                try:
                    st = directory.stat()  # a session whose data file is gone: the directory's age
                except FileNotFoundError:
                    continue
                yield StoredItem(canonical, 0, st.st_mtime)
                continue
            yield StoredItem(canonical, st.st_size, st.st_mtime)

    # -- uploads ---------------------------------------------------------------------------
    def start_upload(self, upload_id: str, algorithm: str = "sha256") -> FilesystemUploadWriter:
        path = self._uploads / canonical_upload_id(upload_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileNotFoundError:  # no uploads/ yet (or removed behind this process's back)
            self._uploads.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(fd)
        return FilesystemUploadWriter(self, upload_id, path, None, algorithm)

    def resume_upload(self, upload_id: str, algorithm: str = "sha256") -> FilesystemUploadWriter:
        path = self._upload_path(upload_id)
        try:
            hasher = self._hashers.take(upload_id, path.stat().st_size)
            return FilesystemUploadWriter(self, upload_id, path, hasher, algorithm)
        except FileNotFoundError:
            raise UploadNotFound(upload_id) from None

    def upload_size(self, upload_id: str) -> int:
        try:
            return self._upload_path(upload_id).stat().st_size
        except FileNotFoundError:
            raise UploadNotFound(upload_id) from None

    def open_upload(self, upload_id: str) -> BinaryIO:
        # The descriptor keeps the inode: after the commit renames the file into blobs/,
        # reading on returns the rest of the committed blob.
        try:
            return open(self._upload_path(upload_id), "rb")
        except FileNotFoundError:
            raise UploadNotFound(upload_id) from None

    def cancel_upload(self, upload_id: str) -> None:
        self._hashers.drop(upload_id)
        path = self._uploads / canonical_upload_id(upload_id)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except (IsADirectoryError, PermissionError):  # a session staged by an earlier version
            shutil.rmtree(path, ignore_errors=True)
