"""Query counts stay flat as the registry grows: each page is measured on the fixed content,
then again after adding more repositories, tags, manifests, blobs, layers, platforms and
referrers than a page shows, and the two counts must be equal. A count that grew would be
a query per row (N+1); `make bench-portal` shows the times at 10,000 repositories."""
from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry_api.models import Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag
from tests import builders
from tests.api.support import Registry

from .conftest import Content

pytestmark = pytest.mark.django_db
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def grow(count: int = 60, batch: str = "a") -> None:
    """`count` more repositories (in two namespaces), each with a blob, two manifests and
    three tags, one manifest untagged; rows only, as bulk as the bench's."""
    blobs = Blob.objects.bulk_create([Blob(digest=_digest(f"grow-{batch}-blob{i}"), size=1000 + i) for i in range(count)])
    repositories = Repository.objects.bulk_create(
        [Repository(name=f"{'bulk' if i % 2 else 'more'}/{batch}{i:04d}") for i in range(count)]
    )
    RepositoryBlob.objects.bulk_create([RepositoryBlob(repository=r, blob=b) for r, b in zip(repositories, blobs)])
    manifests = Manifest.objects.bulk_create([
        Manifest(repository=r, digest=_digest(f"grow-{r.pk}-{k}"), media_type=OCI_MANIFEST, payload=b"{}", size=2)
        for r in repositories for k in range(2)
    ])
    ManifestReference.objects.bulk_create(
        [ManifestReference(manifest=m, blob=b) for m, b in zip(manifests[::2], blobs)]
    )
    Tag.objects.bulk_create([Tag(repository=m.repository, name=f"t{j}", manifest=m) for m in manifests[::2] for j in range(3)])


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(captured)


def _push(client, settings, name: str, reference: str, image) -> None:
    settings.REGISTRY_AUTH_ENABLED = False
    Registry(client).push_image(name, reference, image)
    settings.REGISTRY_AUTH_ENABLED = True


@pytest.mark.parametrize("person", ["root", "reader", "anonymous"])
@pytest.mark.parametrize("path", ["/", "/api/v1/summary/"])
def test_dashboard_and_summary_are_flat(as_person, settings, content: Content, person, path):
    settings.REGISTRY_DASHBOARD_CACHE_SECONDS = 0  # every figure computed at each request
    client = as_person(person)
    small = _queries(client, path)
    grow()
    assert _queries(client, path) == small
    assert small <= 12


def test_a_cached_dashboard_costs_only_the_visitor(as_person, settings, content: Content):
    settings.REGISTRY_DASHBOARD_CACHE_SECONDS = 60
    client = as_person("reader")
    computed = _queries(client, "/api/v1/summary/")
    # Left: the session, the user and their grants; the seven figure queries are cached.
    assert _queries(client, "/api/v1/summary/") == computed - 7


@pytest.mark.parametrize("path", [
    "/repositories/", "/repositories/?sort=-size", "/repositories/?sort=-pushed", "/repositories/?q=r00",
    "/repositories/?namespace=team", "/repositories/team/app/", "/repositories/team/app/?q=v",
    "/api/v1/repositories/team/app/-/tags/?q=v",
])
def test_lists_are_flat(as_person, content: Content, path):
    client = as_person("reader")
    small = _queries(client, path)
    grow()
    repository = Repository.objects.get(name="team/app")
    v2 = Manifest.objects.get(repository=repository, digest=content.v2.manifest.digest)
    Tag.objects.bulk_create([Tag(repository=repository, name=f"v-extra{i}", manifest=v2) for i in range(60)])
    assert _queries(client, path) == small


def test_manifest_pages_are_flat(client, settings, as_person, content: Content):
    """A bigger image (more layers, referrers) and a bigger index (more platforms, one
    missing) cost as many queries as the small ones."""
    reader = as_person("reader")
    small_image = _queries(reader, f"/repositories/team/app/manifests/{content.v1.manifest.digest}/")
    small_index = _queries(reader, f"/repositories/team/multi/manifests/{content.index.digest}/")
    big = builders.image("big", layer_count=9, created="2024-01-01T00:00:00Z")
    _push(client, settings, "team/app", "big", big)
    for i in range(4):
        referrer = builders.image(f"sig{i}", layer_count=1, subject=big.manifest, artifact_type="application/x.sig")
        _push(client, settings, "team/app", referrer.manifest.digest, referrer)
    platforms = [builders.image("wide", architecture=a) for a in ("amd64", "arm64", "ppc64le", "s390x", "riscv64")]
    for image in platforms[:-1]:
        _push(client, settings, "team/multi", image.manifest.digest, image)
    wide = builders.index(platforms)
    Manifest.objects.create(repository=Repository.objects.get(name="team/multi"), digest=wide.digest,
                            media_type=wide.media_type, payload=wide.data, size=len(wide.data))
    reader = as_person("reader")
    assert _queries(reader, f"/repositories/team/app/manifests/{big.manifest.digest}/") == small_image
    assert _queries(reader, f"/repositories/team/multi/manifests/{wide.digest}/") == small_index


def test_compare_is_flat(client, settings, as_person, content: Content):
    reader = as_person("reader")
    small = _queries(reader, "/repositories/team/app/-/compare/?a=v1&b=v2")
    small_index = _queries(reader, "/repositories/team/multi/-/compare/?a=amd64&b=latest&bp=linux/arm64")
    _push(client, settings, "team/app", "big", builders.image("big", layer_count=12))
    grow()
    reader = as_person("reader")
    assert _queries(reader, "/repositories/team/app/-/compare/?a=v1&b=big") == small
    assert _queries(reader, "/repositories/team/multi/-/compare/?a=arm64&b=latest&bp=linux/amd64") == small_index


def test_delete_confirmation_is_flat(client, settings, as_person, content: Content):
    deleter = as_person("deleter")
    path = f"/repositories/team/multi/manifests/{content.arm64.manifest.digest}/delete/"
    small = _queries(deleter, path)
    for i in range(5):  # more indexes listing the image, more referrers
        index = builders.index([content.amd64, content.arm64] if i % 2 else [content.arm64])
        index.data += b" " * i  # a distinct digest each time
        _push_index(client, settings, f"extra{i}", index)
        referrer = builders.image(f"att{i}", layer_count=1, subject=content.arm64.manifest, artifact_type="application/x.att")
        _push(client, settings, "team/multi", f"att{i}", referrer)
    assert _queries(as_person("deleter"), path) == small


def _push_index(client, settings, tag: str, index) -> None:
    index = builders.Blob(index.data, index.media_type)
    settings.REGISTRY_AUTH_ENABLED = False
    Registry(client).push_manifest("team/multi", tag, index)
    settings.REGISTRY_AUTH_ENABLED = True


@pytest.mark.parametrize("model", ["repository", "tag", "manifest", "blob", "repositoryblob", "manifestreference"])
def test_admin_changelists_are_flat(as_person, content: Content, model):
    client = as_person("root")
    path = f"/admin/registry_api/{model}/"
    small = _queries(client, path)
    grow()
    assert _queries(client, path) == small
    filtered = _queries(client, path + ("?namespace=team" if model in ("repository", "tag", "manifest", "repositoryblob") else "?q=sha256"))
    grow(10, batch="b")
    assert _queries(client, path + ("?namespace=team" if model in ("repository", "tag", "manifest", "repositoryblob") else "?q=sha256")) == filtered
