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

from . import databases
from .conftest import ADMIN_PASSWORD, _running_registry
from .support import blob_bytes, layout_blob, skopeo, skopeo_push, skopeo_raw, upload_across_instances

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


def test_a_chunked_upload_started_on_one_instance_finishes_on_the_other(instances):
    upload_across_instances(*instances, builders.image("chunks", padding=3 * PART).layers[0].data, PART)


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
