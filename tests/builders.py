"""Real OCI content with true digests: layers, configs, manifests, indexes, image layouts.

Everything is built in memory from small deterministic inputs, so tests can compare the
bytes a client pushed with the bytes the registry serves.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Blob:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return sha256(self.data)

    def descriptor(self, **extra) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


def layer(files: dict[str, bytes], media_type: str = OCI_LAYER) -> tuple[Blob, str]:
    """A gzipped tar layer and its diff_id (digest of the uncompressed tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return Blob(gzip.compress(tar_bytes, mtime=0), media_type), sha256(tar_bytes)


@dataclass
class Image:
    config: Blob
    layers: list[Blob]
    manifest: Blob
    platform: dict = field(default_factory=dict)

    @property
    def blobs(self) -> list[Blob]:
        return [self.config, *self.layers]


def image(
    label: str,
    layer_count: int = 2,
    architecture: str = "amd64",
    docker: bool = False,
    subject: Blob | None = None,
    artifact_type: str | None = None,
    annotations: dict | None = None,
    created: str | None = None,
    padding: int = 0,
    first_layer_files: dict[str, bytes] | None = None,
) -> Image:
    """An image whose layers hold files named after `label`, runnable as a `FROM scratch` image;
    `first_layer_files` adds files to the first layer (e.g. random bytes for a big layer);
    `padding` adds that many incompressible bytes to it (multipart uploads)."""
    layers, diff_ids = [], []
    for i in range(layer_count):
        files = {f"{label}/file{i}.txt": f"{label} layer {i} {architecture}\n".encode()}
        if i == 0 and first_layer_files:
            files.update(first_layer_files)
        if padding and i == 0:
            files[f"{label}/padding.bin"] = random.Random(label).randbytes(padding)
        blob, diff_id = layer(files, DOCKER_LAYER if docker else OCI_LAYER)
        layers.append(blob)
        diff_ids.append(diff_id)
    platform = {"architecture": architecture, "os": "linux"}
    config = Blob(
        json.dumps(
            {
                **platform,
                "config": {"Cmd": ["/bin/true"], "Labels": {"test.label": label}},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created_by": f"layer {i}", **({"created": created} if created else {})}
                            for i in range(layer_count)],
                **({"created": created} if created else {}),
            },
            sort_keys=True,
        ).encode(),
        DOCKER_CONFIG if docker else OCI_CONFIG,
    )
    document = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in layers],
    }
    if artifact_type:
        document["artifactType"] = artifact_type
    if subject is not None:
        document["subject"] = subject.descriptor()
    if annotations:
        document["annotations"] = annotations
    manifest = Blob(json.dumps(document, indent=2).encode(), document["mediaType"])
    return Image(config, layers, manifest, platform)


def index(images: list[Image], docker: bool = False) -> Blob:
    document = {
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST if docker else OCI_INDEX,
        "manifests": [img.manifest.descriptor(platform=img.platform) for img in images],
    }
    return Blob(json.dumps(document, indent=2).encode(), document["mediaType"])


def write_oci_layout(directory: Path, tagged: dict[str, Blob], blobs: list[Blob]) -> Path:
    """An OCI image layout (what `skopeo copy oci:DIR:TAG` reads)."""
    blob_dir = directory / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    for blob in [*blobs, *tagged.values()]:
        (blob_dir / blob.digest.split(":", 1)[1]).write_bytes(blob.data)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index_doc = {
        "schemaVersion": 2,
        "manifests": [
            b.descriptor(annotations={"org.opencontainers.image.ref.name": tag}) for tag, b in tagged.items()
        ],
    }
    (directory / "index.json").write_text(json.dumps(index_doc))
    return directory


def image_layout(directory: Path, tag: str, img: Image) -> Path:
    return write_oci_layout(directory, {tag: img.manifest}, img.blobs)


def index_layout(directory: Path, tag: str, images: list[Image], docker: bool = False) -> tuple[Path, Blob]:
    idx = index(images, docker=docker)
    blobs = [b for img in images for b in (*img.blobs, img.manifest)]
    return write_oci_layout(directory, {tag: idx}, blobs), idx


def docker_archive(path: Path, img: Image, repo_tags: list[str]) -> Path:
    """A `docker save`-format tar of `img` (what `docker load -i` reads).

    manifest.json names the config file and one uncompressed `layer.tar` per layer, so the
    loaded image's ID is the config's digest and its diff_ids are the layers' tar digests.
    """

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))

    config_name = img.config.digest.split(":", 1)[1] + ".json"
    layer_names = []
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, config_name, img.config.data)
        for blob in img.layers:
            layer_tar = gzip.decompress(blob.data)
            name = sha256(layer_tar).split(":", 1)[1] + "/layer.tar"
            add(tar, name, layer_tar)
            layer_names.append(name)
        document = [{"Config": config_name, "RepoTags": repo_tags, "Layers": layer_names}]
        add(tar, "manifest.json", json.dumps(document).encode())
    return path
