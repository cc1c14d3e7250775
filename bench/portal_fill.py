"""Fill a scratch registry database for `make bench-portal`, fast (bulk_create, no HTTP).

The shape follows a busy registry: repositories spread over 50 namespaces, three image
manifests each (a config and two layers drawn from a shared pool, so blobs are shared
across repositories as base layers are), the tags spread over those manifests, pushes
spread over two weeks. Config blobs are real JSON written through the storage protocol,
so the manifest and compare pages read them as they would in production; layer blobs
exist only as rows (no page reads layer bytes). One repository, `SAMPLE`, also holds an
index of its three images and a signature, for the index, manifest and compare pages.
"""
from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from registry_api.models import Blob, Grant, Manifest, ManifestReference, Namespace, Repository, RepositoryBlob, Tag
from registry_api.oci.imageconfig import parse_timestamp
from storage_backends import get_storage

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
NAMESPACES = 50
CONFIGS = 200  # real config blobs, written to storage
MANIFESTS_PER_REPOSITORY = 3
SAMPLE_INDEX = 5007  # the repository the single-repository pages are timed on
BATCH = 5000
ARCHITECTURES = ("amd64", "arm64", "s390x")


@dataclass
class Filled:
    sample: str  # repository name
    sample_digests: list[str]  # its image manifests
    index_digest: str
    user: str  # pulls one namespace only
    superuser: str


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _store(data: bytes) -> str:
    """Write a blob through the storage protocol, as an upload commit would."""
    digest = _digest(data)
    writer = get_storage().start_upload(str(uuid.uuid4()))
    writer.write(data)
    writer.commit(digest)
    return digest


def _created(i: int) -> str:
    return f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:{i % 60:02d}:00.123456789Z"


def _config(i: int) -> bytes:
    created = _created(i)
    return json.dumps({
        "architecture": ARCHITECTURES[i % 3], "os": "linux", "created": created,
        "config": {"Env": ["PATH=/usr/bin", f"BUILD={i}"], "Cmd": ["/app", str(i)], "Labels": {"build": str(i)}},
        "rootfs": {"type": "layers", "diff_ids": [_digest(b"a%d" % i), _digest(b"b%d" % i)]},
        "history": [{"created": created, "created_by": f"COPY layer{j} /"} for j in range(2)],
    }, sort_keys=True).encode()


def _blobs(count: int, rng: random.Random) -> tuple[list[Blob], list[Blob]]:
    configs = []
    for i in range(min(CONFIGS, count // 2)):
        data = _config(i)
        configs.append(Blob(digest=_store(data), size=len(data)))
        configs[-1].built = parse_timestamp(_created(i))  # what a push reads into Manifest.image_created
    layers = [
        Blob(digest=_digest(b"layer %d" % i), size=rng.randint(1_000, 50_000_000))
        for i in range(count - len(configs))
    ]
    Blob.objects.bulk_create(configs + layers, batch_size=BATCH)
    return configs, layers


def _payload(config: Blob, layers: list[Blob]) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": OCI_LAYER, "digest": b.digest, "size": b.size} for b in layers],
    }, indent=2).encode()


def _spread_times(model, field: str, days: int = 14) -> None:
    """bulk_create stamps every row "now"; spread them over `days` days (by id, in bulk)."""
    now = timezone.now()
    for k in range(days):
        model.objects.annotate(bucket=F("id") % days).filter(bucket=k).update(
            **{field: now - timedelta(days=k, minutes=k * 7)}
        )


def _sample_extras(repository: Repository, manifests: list[Manifest]) -> Manifest:
    """An index of the sample's three images, tagged `multi`, and a signature on the first."""
    index_payload = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": m.digest, "size": m.size,
         "platform": {"os": "linux", "architecture": ARCHITECTURES[i % 3]}}
        for i, m in enumerate(manifests)
    ]}, indent=2).encode()
    index = Manifest.objects.create(repository=repository, digest=_digest(index_payload), media_type=OCI_INDEX,
                                    payload=index_payload, size=len(index_payload))
    ManifestReference.objects.bulk_create([ManifestReference(manifest=index, child_digest=m.digest) for m in manifests])
    Tag.objects.create(repository=repository, name="multi", manifest=index)
    return index


def fill(*, repositories: int = 10_000, tags: int = 100_000, blobs: int = 20_000, seed: int = 1) -> Filled:
    rng = random.Random(seed)
    with transaction.atomic():
        configs, layers = _blobs(blobs, rng)
        repos = Repository.objects.bulk_create(
            [Repository(name=f"ns{i % NAMESPACES:02d}/repo{i:05d}") for i in range(repositories)], batch_size=BATCH,
        )
        links, manifests, refs = [], [], []
        for repo in repos:
            chosen_layers = rng.sample(layers, 2 * MANIFESTS_PER_REPOSITORY)
            chosen_configs = rng.sample(configs, MANIFESTS_PER_REPOSITORY)
            links += [RepositoryBlob(repository=repo, blob=b) for b in chosen_layers + chosen_configs]
            for m in range(MANIFESTS_PER_REPOSITORY):
                own = chosen_layers[2 * m: 2 * m + 2]
                payload = _payload(chosen_configs[m], own)
                manifests.append(Manifest(repository=repo, digest=_digest(payload), media_type=OCI_MANIFEST,
                                          payload=payload, size=len(payload), artifact_type=OCI_CONFIG,
                                          image_created=chosen_configs[m].built))
                refs.append([chosen_configs[m], *own])
        RepositoryBlob.objects.bulk_create(links, batch_size=BATCH)
        Manifest.objects.bulk_create(manifests, batch_size=BATCH)
        ManifestReference.objects.bulk_create(
            [ManifestReference(manifest=m, blob=b) for m, bs in zip(manifests, refs) for b in bs], batch_size=BATCH,
        )
        per_repository = max(tags // repositories, 1)
        Tag.objects.bulk_create([
            Tag(repository_id=manifests[r * MANIFESTS_PER_REPOSITORY].repository_id, name=f"t{j % 3}-{j}",
                manifest=manifests[r * MANIFESTS_PER_REPOSITORY + j % MANIFESTS_PER_REPOSITORY])
            for r in range(repositories) for j in range(per_repository)
        ], batch_size=BATCH)
        _spread_times(Manifest, "created_at")
        _spread_times(Tag, "updated_at")
        sample_index = min(SAMPLE_INDEX, repositories - 1)
        sample = repos[sample_index]
        own = manifests[sample_index * MANIFESTS_PER_REPOSITORY:(sample_index + 1) * MANIFESTS_PER_REPOSITORY]
        index = _sample_extras(sample, own)
        namespaces = Namespace.objects.bulk_create(
            [Namespace(name=f"ns{i:02d}", public=i == 3) for i in range(NAMESPACES)]
        )
        User.objects.filter(username__in=["bench-root", "bench-dev"]).delete()
        root = User.objects.create_superuser("bench-root", password="bench-root")
        dev = User.objects.create_user("bench-dev", password="bench-dev")
        Grant.objects.create(namespace=namespaces[int(sample.name[2:4])], user=dev, level="pull")
    return Filled(sample.name, [m.digest for m in own], index.digest, dev.username, root.username)


def existing() -> Filled:
    """What `fill` made, found again in a kept data directory."""
    index_tag = Tag.objects.select_related("repository", "manifest").get(name="multi")
    repository = index_tag.repository
    digests = list(
        ManifestReference.objects.filter(manifest=index_tag.manifest).order_by("id").values_list("child_digest", flat=True)
    )
    return Filled(repository.name, digests, index_tag.manifest.digest, "bench-dev", "bench-root")


def counts() -> str:
    return (f"{Repository.objects.count():,} repositories, {Tag.objects.count():,} tags, "
            f"{Manifest.objects.count():,} manifests, {Blob.objects.count():,} blobs")
