"""The registry with its blobs in Azure Blob Storage (Azurite, Microsoft's emulator), as
installed (access control on): skopeo and docker push and pull through gunicorn, pulls
through SAS redirects, a chunked upload spread over two instances sharing one database and
one container, gc and fsck; and the faults: a wrong digest, a request cut off mid-block,
and Azurite stopped in the middle of a push."""
from __future__ import annotations

import base64
import contextlib
import json
import socket
import subprocess

import pytest

from tests import builders
from tests.azurite import start_azurite
from tests.builders import sha256

from . import databases
from .conftest import ADMIN_PASSWORD, _running_registry
from .support import (
    blob_bytes, layout_blob, send_chunk, skopeo, skopeo_push, skopeo_raw, upload_across_instances,
)

pytestmark = pytest.mark.e2e

BLOCK = 1024 * 1024  # the smallest block allowed: layers of a few MiB span several
CREDS = f"admin:{ADMIN_PASSWORD}"


@pytest.fixture(scope="module")
def azure_registry(azurite, tmp_path_factory):
    container = azurite.new_container()
    env = azurite.settings_env(container, REGISTRY_AZURE_BLOCK_SIZE=str(BLOCK), REGISTRY_AZURE_REDIRECT="true")
    with _running_registry(tmp_path_factory.mktemp("azure-registry"), auth=True, **env) as registry:
        registry.container = container
        yield registry


@pytest.fixture(scope="module")
def azure_instances(azurite, tmp_path_factory):
    """Two instances, as behind one load balancer: one database, one container."""
    root = tmp_path_factory.mktemp("azure-instances")
    shared = {
        **azurite.settings_env(azurite.new_container(), REGISTRY_AZURE_BLOCK_SIZE=str(BLOCK)),
        "DATABASE_URL": databases.database_url(root) or f"sqlite:///{root / 'shared.sqlite3'}",
        "REGISTRY_SECRET_KEY": "shared-secret-key-of-both-instances-" + "x" * 20,
    }
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(_running_registry(root / "a", auth=True, **shared))
        b = stack.enter_context(_running_registry(root / "b", auth=True, **shared))
        yield a, b


def _blob_names(img: builders.Image) -> set[str]:
    return {f"blobs/sha256/{b.digest[7:9]}/{b.digest[7:]}" for b in img.blobs}


def test_skopeo_push_and_pull_with_blobs_in_azure(azure_registry, azurite, tmp_path):
    img = builders.image("azure-app", padding=2 * BLOCK + 4321)  # a layer of three blocks
    ref = f"docker://{azure_registry.host}/e2e/azureapp:v1"
    skopeo_push(f"oci:{builders.image_layout(tmp_path / 'src', 'v1', img)}:v1", ref, "--dest-creds", CREDS)

    assert set(azurite.blob_names(azure_registry.container, "blobs/")) >= _blob_names(img)
    assert azurite.blob_names(azure_registry.container, "uploads/") == []  # sessions cleaned up
    assert skopeo_raw(ref, "--creds", CREDS) == img.manifest.data
    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-creds", CREDS, ref, f"oci:{out}:v1")
    for digest, data in blob_bytes(img.blobs).items():
        assert layout_blob(out, digest) == data, digest
    # Those bytes came from the container: the registry answered with SAS redirects.
    blob = azure_registry.request("GET", f"/v2/e2e/azureapp/blobs/{img.layers[0].digest}")
    assert blob.status == 307 and blob.headers["Location"].startswith(azurite.account_url)


def test_docker_push_and_pull_with_blobs_in_azure(azure_registry, dockerd, tmp_path):
    user, password = azure_registry.credentials
    login = subprocess.run(["docker", "login", azure_registry.host, "-u", user, "--password-stdin"],
                           input=password, env=dockerd.env, capture_output=True, text=True, timeout=60)
    assert login.returncode == 0, login.stderr
    img = builders.image("azure-docker", docker=True, padding=BLOCK + 17)
    archive = builders.docker_archive(tmp_path / "image.tar", img, ["e2e/azure-docker:latest"])
    dockerd("load", "-i", archive)
    ref = f"{azure_registry.host}/team/azure-docker:v1"
    dockerd("tag", "e2e/azure-docker:latest", ref)
    dockerd("push", ref)  # one chunked PATCH per layer, then a PUT: hashed in flight or read back
    dockerd("image", "rm", ref, "e2e/azure-docker:latest")

    dockerd("pull", ref)  # through the redirects
    inspected = dockerd.inspect(ref)
    assert inspected["Id"] == img.config.digest
    assert inspected["RootFS"]["Layers"] == json.loads(img.config.data)["rootfs"]["diff_ids"]


def test_gc_and_fsck_work_on_the_container(azure_registry, azurite, tmp_path):
    keep, drop = builders.image("azure-keep"), builders.image("azure-drop")
    for name, img in (("e2e/keep", keep), ("e2e/drop", drop)):
        skopeo_push(f"oci:{builders.image_layout(tmp_path / name, 'v1', img)}:v1",
                    f"docker://{azure_registry.host}/{name}:v1", "--dest-creds", CREDS)
    assert azure_registry.request("DELETE", "/v2/e2e/drop/manifests/v1").status == 202

    out = azure_registry.manage("gc", "--delete-untagged", "--grace-period", "0")

    assert f"{len(drop.blobs)} blob(s)" in out
    stored = set(azurite.blob_names(azure_registry.container, "blobs/"))
    assert stored >= _blob_names(keep)
    assert not stored & _blob_names(drop)
    azure_registry.manage("fsck")  # exits 1 (and `manage` raises) on any problem


def test_a_chunked_upload_started_on_one_instance_finishes_on_the_other(azure_instances):
    upload_across_instances(*azure_instances, builders.image("azure-chunks", padding=3 * BLOCK).layers[0].data, BLOCK)


def test_a_wrong_digest_leaves_nothing_visible(azure_registry, azurite):
    data = builders.image("azure-wrong", padding=BLOCK + 5).layers[0].data
    location = azure_registry.request("POST", "/v2/e2e/wrong/blobs/uploads/").headers["Location"]
    assert send_chunk(azure_registry, "PATCH", location, data, 0).status == 202
    wrong = sha256(data + b"!")
    done = azure_registry.request("PUT", f"{location}?digest={wrong}")
    assert done.status == 400 and done.json()["errors"][0]["code"] == "DIGEST_INVALID"
    for digest in (wrong, sha256(data)):
        assert azure_registry.request("HEAD", f"/v2/e2e/wrong/blobs/{digest}").status == 404
        assert f"blobs/sha256/{digest[7:9]}/{digest[7:]}" not in azurite.blob_names(azure_registry.container)
    assert azure_registry.request("GET", location).status == 404  # the session went too


def test_a_request_cut_off_mid_block_leaves_the_upload_resumable(azure_registry):
    data = builders.image("azure-cut", padding=3 * BLOCK).layers[0].data
    first = data[:BLOCK // 2]
    location = azure_registry.request("POST", "/v2/e2e/cut/blobs/uploads/").headers["Location"]
    assert send_chunk(azure_registry, "PATCH", location, first, 0).status == 202

    # The next chunk announces all the rest, sends a block and a half of it, and hangs up.
    address, port = azure_registry.host.rsplit(":", 1)
    user, password = azure_registry.credentials
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    with socket.create_connection((address, int(port)), timeout=30) as conn:
        rest = data[len(first):]
        conn.sendall((f"PATCH {location} HTTP/1.1\r\nHost: {azure_registry.host}\r\n"
                      f"Authorization: Basic {basic}\r\nContent-Type: application/octet-stream\r\n"
                      f"Content-Range: {len(first)}-{len(data) - 1}\r\nContent-Length: {len(rest)}\r\n\r\n").encode())
        conn.sendall(rest[:BLOCK + BLOCK // 2])
    # The session stays as it was before that request: the staged block was never committed.
    status = azure_registry.request("GET", location)
    assert status.status == 204 and status.headers["Range"] == f"0-{len(first) - 1}"
    assert azure_registry.request("HEAD", f"/v2/e2e/cut/blobs/{sha256(data)}").status == 404
    done = send_chunk(azure_registry, "PUT", f"{location}?digest={sha256(data)}", data[len(first):], len(first))
    assert done.status == 201, done.body
    assert azure_registry.request("GET", f"/v2/e2e/cut/blobs/{sha256(data)}").status == 307


def test_azurite_stopped_mid_push_is_a_clean_5xx_and_nothing_half_written(tmp_path_factory):
    """Its own Azurite and registry: this one is stopped, and a 5xx is what we expect."""
    root = tmp_path_factory.mktemp("azure-outage")
    server = start_azurite(root / "azurite")
    try:
        container = server.new_container()
        with _running_registry(root / "registry", auth=False,
                               **server.settings_env(container, REGISTRY_AZURE_BLOCK_SIZE=str(BLOCK))) as registry:
            data = builders.image("azure-outage", padding=2 * BLOCK).layers[0].data
            first = data[:BLOCK + 7]
            location = registry.request("POST", "/v2/e2e/outage/blobs/uploads/").headers["Location"]
            assert send_chunk(registry, "PATCH", location, first, 0).status == 202

            server.stop()
            log_start = registry.log.size()
            failed = send_chunk(registry, "PATCH", location, data[len(first):], len(first))
            assert 500 <= failed.status < 600
            assert failed.json()["errors"][0]["code"] == "UNKNOWN"
            assert b"Traceback" not in failed.body and b"azure" not in failed.body.lower()
            logged = registry.log.read(log_start)
            assert f"unhandled error on PATCH {location.split('?')[0]}" in logged, logged[-3000:]

            server.start()  # the same port, over the same directory
            assert not [n for n in server.blob_names(container) if n.startswith("blobs/")]
            assert registry.request("HEAD", f"/v2/e2e/outage/blobs/{sha256(data)}").status == 404
            status = registry.request("GET", location)
            assert status.status == 204 and status.headers["Range"] == f"0-{len(first) - 1}"
            done = send_chunk(registry, "PUT", f"{location}?digest={sha256(data)}", data[len(first):], len(first))
            assert done.status == 201, done.body
            assert registry.request("GET", f"/v2/e2e/outage/blobs/{sha256(data)}").body == data
    finally:
        server.stop()
