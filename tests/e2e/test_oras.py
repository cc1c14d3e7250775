"""oras (the Python SDK, PyPI `oras`) against the registry: artifacts with a subject, found
through the Referrers API and pulled back byte for byte.

oras-py's `push` types an artifact by its config media type (the oras 1.0 convention,
which the Referrers API reports as `artifactType` when the manifest has none); an explicit
`artifactType` is written with oras's own upload primitives.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests import builders

from .support import unavailable

pytestmark = pytest.mark.e2e

SBOM_CONFIG = "application/vnd.example.sbom.config.v1+json"
SIGNATURE = "application/vnd.example.signature.v1"
EMPTY = "application/vnd.oci.empty.v1+json"


@pytest.fixture(scope="module")
def oras():
    try:
        return importlib.import_module("oras.client"), importlib.import_module("oras.oci")
    except ImportError:
        unavailable("the oras package is not installed (requirements.txt)")


@pytest.fixture
def client(oras, live_registry):
    return oras[0].OrasClient(hostname=live_registry.host, insecure=True)


@pytest.fixture
def subject(live_registry, request) -> builders.Image:
    """An image of its own per test, so each test sees only its own referrers."""
    img = builders.image(f"oras-subject-{request.node.name}", layer_count=1)
    for blob in img.blobs:
        live_registry.push_blob("e2e/oras", blob.data)
    response = live_registry.request("PUT", "/v2/e2e/oras/manifests/app", img.manifest.data,
                                     {"Content-Type": img.manifest.media_type})
    assert response.status == 201, response.body
    return img


def _subject(oras, img: builders.Image):
    return oras[1].Subject(img.manifest.media_type, img.manifest.digest, len(img.manifest.data))


def _referrers(live_registry, digest: str, **query) -> list[dict]:
    path = f"/v2/e2e/oras/referrers/{digest}" + (f"?{urlencode(query)}" if query else "")
    response = live_registry.request("GET", path)
    assert response.status == 200 and response.headers["Content-Type"] == builders.OCI_INDEX
    return response.json()["manifests"]


def test_push_with_a_subject_is_listed_as_a_referrer_and_pulls_back(oras, client, live_registry, subject,
                                                                   tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # oras only uploads files below the working directory
    sbom = json.dumps({"spdxVersion": "SPDX-2.3", "name": "oras-subject"}).encode()
    Path("sbom.spdx.json").write_bytes(sbom)
    Path("config.json").write_text("{}")
    response = client.push(
        target=f"{live_registry.host}/e2e/oras:sbom", files=["sbom.spdx.json:application/spdx+json"],
        manifest_config=f"config.json:{SBOM_CONFIG}", manifest_annotations={"org.example.kind": "sbom"},
        subject=_subject(oras, subject), quiet=True,
    )
    assert response.status_code == 201
    digest = response.headers["Docker-Content-Digest"]
    assert response.headers["OCI-Subject"] == subject.manifest.digest

    listed = _referrers(live_registry, subject.manifest.digest)
    assert [(m["digest"], m["artifactType"]) for m in listed] == [(digest, SBOM_CONFIG)]
    assert listed[0]["annotations"]["org.example.kind"] == "sbom"
    assert _referrers(live_registry, subject.manifest.digest, artifactType=SBOM_CONFIG) == listed
    assert _referrers(live_registry, subject.manifest.digest, artifactType=SIGNATURE) == []

    pulled = client.pull(target=f"{live_registry.host}/e2e/oras@{digest}", outdir=str(tmp_path / "out"))
    assert [Path(p).name for p in pulled] == ["sbom.spdx.json"]
    assert Path(pulled[0]).read_bytes() == sbom


def test_an_explicit_artifact_type_is_reported_as_it_was_pushed(oras, client, live_registry, subject,
                                                                tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    signature = b"not really a signature, but bytes to compare\n"
    Path("sig.bin").write_bytes(signature)
    Path("empty.json").write_text("{}")
    container = client.get_container(f"{live_registry.host}/e2e/oras:signature")
    layer = oras[1].NewLayer("sig.bin", media_type=SIGNATURE)
    layer["annotations"] = {"org.opencontainers.image.title": "sig.bin"}
    assert client.upload_blob("sig.bin", container, layer).status_code in (200, 201, 202)
    config, _ = oras[1].ManifestConfig("empty.json", EMPTY)
    assert client.upload_blob("empty.json", container, config).status_code in (200, 201, 202)
    manifest = oras[1].NewManifest()
    manifest.update(artifactType=SIGNATURE, config=config, layers=[layer], subject=asdict(_subject(oras, subject)))
    response = client.upload_manifest(manifest, container)
    assert response.status_code == 201
    digest = response.headers["Docker-Content-Digest"]

    listed = _referrers(live_registry, subject.manifest.digest, artifactType=SIGNATURE)
    assert [(m["digest"], m["artifactType"], m["mediaType"]) for m in listed] == [
        (digest, SIGNATURE, builders.OCI_MANIFEST)
    ]
    pulled = client.pull(target=f"{live_registry.host}/e2e/oras@{digest}", outdir=str(tmp_path / "out"))
    assert Path(pulled[0]).read_bytes() == signature
