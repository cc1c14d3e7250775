"""A thin registry client over Django's test client, and the envelope assertion.

Pushes go through the real API (POST + PUT for blobs, PUT for manifests), so a fixture
that "has an image" got it the way a client would.
"""
from __future__ import annotations

import hashlib
import re

from django.test import Client

from tests.builders import Blob, Image

CODE_RE = re.compile(r"^[A-Z_]+$")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def assert_error(response, status: int, code: str) -> dict:
    """The response is an OCI error envelope with `code` first, at `status`; returns the entry."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errors"}
    assert isinstance(body["errors"], list) and body["errors"]
    for entry in body["errors"]:
        assert CODE_RE.match(entry["code"]), entry
        assert isinstance(entry.get("message", ""), str)
    assert body["errors"][0]["code"] == code, body
    return body["errors"][0]


class Registry:
    """What a client does, step by step, against /v2/."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def start_upload(self, name: str) -> str:
        response = self.client.post(f"/v2/{name}/blobs/uploads/")
        assert response.status_code == 202, response.content
        return response["Location"]

    def push_blob(self, name: str, blob: Blob | bytes) -> str:
        data = blob if isinstance(blob, bytes) else blob.data
        location = self.start_upload(name)
        response = self.client.put(
            f"{location}?digest={sha256(data)}", data, content_type="application/octet-stream"
        )
        assert response.status_code == 201, response.content
        return sha256(data)

    def put_manifest(self, name: str, reference: str, manifest: Blob, **kwargs):
        return self.client.put(
            f"/v2/{name}/manifests/{reference}", manifest.data, content_type=manifest.media_type, **kwargs
        )

    def push_manifest(self, name: str, reference: str, manifest: Blob) -> str:
        response = self.put_manifest(name, reference, manifest)
        assert response.status_code == 201, response.content
        return response["Docker-Content-Digest"]

    def push_image(self, name: str, reference: str, img: Image) -> str:
        for blob in img.blobs:
            self.push_blob(name, blob)
        return self.push_manifest(name, reference, img.manifest)
