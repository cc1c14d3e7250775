"""Backup while the registry serves pushes, restore onto an empty data directory, serve
it again: every image the backup holds pulls byte for byte and fsck finds it clean."""
from __future__ import annotations

import sys
import threading

import pytest

from tests import builders

from .conftest import REPO_ROOT, _running_registry, _server_env
from .support import LiveRegistry, run

pytestmark = pytest.mark.e2e


def _push(registry: LiveRegistry, name: str, img: builders.Image) -> None:
    for blob in img.blobs:
        registry.push_blob(name, blob.data)
    response = registry.request("PUT", f"/v2/{name}/manifests/v1", img.manifest.data,
                                {"Content-Type": img.manifest.media_type})
    assert response.status == 201, response.body


def _pulls_back(registry: LiveRegistry, name: str, img: builders.Image) -> None:
    assert registry.manifest(name, "v1", img.manifest.media_type).body == img.manifest.data
    for blob in img.blobs:
        assert registry.request("GET", f"/v2/{name}/blobs/{blob.digest}").body == blob.data


def test_backup_during_pushes_restores_onto_an_empty_data_directory(tmp_path):
    before = {f"backup/before-{i}": builders.image(f"before-{i}") for i in range(4)}
    during: dict[str, builders.Image] = {}
    destination = tmp_path / "backup"
    with _running_registry(tmp_path / "first", auth=False, sqlite=True) as registry:
        for name, img in before.items():
            _push(registry, name, img)
        done, errors = threading.Event(), []

        def keep_pushing() -> None:
            try:
                while not done.is_set():
                    name = f"backup/during-{len(during)}"
                    during[name] = builders.image(name)
                    _push(registry, name, during[name])
            except Exception as exc:  # an assertion in a thread would be lost
                errors.append(exc)

        pusher = threading.Thread(target=keep_pushing)
        pusher.start()
        try:
            registry.manage("backup", str(destination))
        finally:
            done.set()
            pusher.join(timeout=60)
        assert not errors and len(during) > 3  # the backup really ran beside pushes

    new_data = tmp_path / "second" / "data"
    restored = run([sys.executable, "manage.py", "restore", str(destination)],
                   env=_server_env(new_data, auth=False), cwd=REPO_ROOT)
    assert "no problems" in restored
    with _running_registry(tmp_path / "second", auth=False, sqlite=True) as registry:
        for name, img in before.items():
            _pulls_back(registry, name, img)
        # What was pushed during the backup is there whole or not at all.
        catalog = set(registry.request("GET", "/v2/_catalog").json()["repositories"])
        for name in catalog & set(during):
            tags = registry.request("GET", f"/v2/{name}/tags/list").json()["tags"] or []
            if "v1" in tags:
                _pulls_back(registry, name, during[name])
        registry.manage("fsck")
