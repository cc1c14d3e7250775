"""Two gunicorn instances, as behind one load balancer: one metadata database (PostgreSQL when
the suite runs on it, else one SQLite file) and one S3 bucket (moto's real server), separate
data directories, the same secret and token keys. Whatever one instance did, the other sees
on its next request: an upload it started, an image it pushed, a tag it moved, a token."""
from __future__ import annotations

import base64
import contextlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests import builders
from tests.builders import sha256

from . import databases
from .conftest import ADMIN_PASSWORD, _running_registry
from .support import blob_bytes, layout_blob, skopeo, skopeo_push, skopeo_raw

pytestmark = pytest.mark.e2e

PART = 5 * 1024 * 1024
CREDS = f"admin:{ADMIN_PASSWORD}"


@pytest.fixture(scope="module")
def instances(s3_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("two-instances")
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    shared = {
        **s3_server.settings_env(s3_server.new_bucket(), REGISTRY_S3_PART_SIZE=str(PART)),
        "DATABASE_URL": databases.database_url(root) or f"sqlite:///{root / 'shared.sqlite3'}",
        "REGISTRY_SECRET_KEY": "shared-secret-key-of-both-instances-" + "x" * 20,
        "REGISTRY_TOKEN_KEY": key,
    }
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(_running_registry(root / "a", auth=True, **shared))
        b = stack.enter_context(_running_registry(root / "b", auth=True, **shared))
        yield a, b


def _chunk(registry, method: str, location: str, data: bytes, start: int):
    return registry.request(method, location, data, {
        "Content-Range": f"{start}-{start + len(data) - 1}", "Content-Type": "application/octet-stream",
    })


def test_a_chunked_upload_started_on_one_instance_finishes_on_the_other(instances):
    a, b = instances
    data = builders.image("chunks", padding=3 * PART).layers[0].data
    first, second, third = data[:PART + 1234], data[PART + 1234:2 * PART + 99], data[2 * PART + 99:]

    started = a.request("POST", "/v2/e2e/chunks/blobs/uploads/")
    assert started.status == 202
    location = started.headers["Location"]
    assert _chunk(a, "PATCH", location, first, 0).status == 202

    status = b.request("GET", location)
    assert status.status == 204 and status.headers["Range"] == f"0-{len(first) - 1}"
    patched = _chunk(b, "PATCH", location, second, len(first))
    assert patched.status == 202 and patched.headers["Range"] == f"0-{len(first) + len(second) - 1}"
    done = _chunk(b, "PUT", f"{location}?digest={sha256(data)}", third, len(first) + len(second))
    assert done.status == 201, done.body

    for registry in (a, b):
        blob = registry.request("GET", f"/v2/e2e/chunks/blobs/{sha256(data)}")
        assert blob.status == 200 and blob.body == data


def test_an_image_pushed_to_one_instance_pulls_from_the_other(instances, tmp_path):
    a, b = instances
    img = builders.image("two-instances", padding=PART + 1)
    skopeo_push(f"oci:{builders.image_layout(tmp_path / 'src', 'v1', img)}:v1",
                f"docker://{a.host}/e2e/shared:v1", "--dest-creds", CREDS)

    ref = f"docker://{b.host}/e2e/shared:v1"
    assert skopeo_raw(ref, "--creds", CREDS) == img.manifest.data
    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-creds", CREDS, ref, f"oci:{out}:v1")
    for digest, data in blob_bytes(img.blobs).items():
        assert layout_blob(out, digest) == data, digest


def test_a_tag_moved_on_one_instance_is_seen_by_the_other_at_once(instances):
    a, b = instances
    for label in ("before", "after"):
        img = builders.image(f"moved-{label}")
        for blob in img.blobs:
            a.push_blob("e2e/moving", blob.data)
        put = a.request("PUT", "/v2/e2e/moving/manifests/latest", img.manifest.data,
                        {"Content-Type": img.manifest.media_type})
        assert put.status == 201, put.body
        seen = b.manifest("e2e/moving", "latest", accept=img.manifest.media_type)
        assert seen.headers["Docker-Content-Digest"] == img.manifest.digest
        assert seen.body == img.manifest.data


def test_a_token_issued_by_one_instance_is_accepted_by_the_other(instances):
    a, b = instances
    basic = base64.b64encode(CREDS.encode()).decode()
    issued = a.request("GET", "/auth/token?service=docker-registry-manager&scope=registry:catalog:*",
                       headers={"Authorization": f"Basic {basic}"})
    assert issued.status == 200, issued.body
    token = json.loads(issued.body)["token"]
    catalog = b.request("GET", "/v2/_catalog", headers={"Authorization": f"Bearer {token}"})
    assert catalog.status == 200 and "repositories" in catalog.json()
