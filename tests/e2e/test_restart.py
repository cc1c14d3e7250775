"""An upload session outlives the server: started, stopped mid-way, finished after a restart."""
from __future__ import annotations

import pytest

from tests.builders import sha256

from .conftest import _running_registry

pytestmark = pytest.mark.e2e


def test_chunked_upload_continues_after_a_restart(tmp_path):
    first, second = b"a" * 300_000, b"b" * 200_000
    with _running_registry(tmp_path, auth=False) as registry:
        started = registry.request("POST", "/v2/e2e/restart/blobs/uploads/")
        assert started.status == 202
        location = started.headers["Location"]
        patched = registry.request("PATCH", location, first, {
            "Content-Range": f"0-{len(first) - 1}", "Content-Type": "application/octet-stream",
        })
        assert patched.status == 202 and patched.headers["Range"] == f"0-{len(first) - 1}"
    with _running_registry(tmp_path, auth=False) as registry:
        status = registry.request("GET", location)
        assert status.status == 204 and status.headers["Range"] == f"0-{len(first) - 1}"
        # The running hash died with the old process: the commit must re-hash the staged bytes.
        digest = sha256(first + second)
        done = registry.request("PUT", f"{location}?digest={digest}", second, {
            "Content-Range": f"{len(first)}-{len(first) + len(second) - 1}",
            "Content-Type": "application/octet-stream",
        })
        assert done.status == 201, done.body
        blob = registry.request("GET", f"/v2/e2e/restart/blobs/{digest}")
        assert blob.status == 200 and blob.body == first + second
