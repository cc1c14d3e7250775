"""GET /v2/<name>/referrers/<digest>: the manifests whose subject is <digest>, as an index."""
from __future__ import annotations

import json
import re

import pytest

from registry_api.apps import check_api_settings
from tests import builders
from tests.builders import Blob

from .support import assert_error, sha256

NAME = "library/app"
SBOM = "application/vnd.example.sbom.v1"
SIG = "application/vnd.example.signature.v1"


def push_artifact(registry, name: str, subject: Blob, label: str, **kwargs) -> builders.Image:
    artifact = builders.image(label, layer_count=1, subject=subject, **kwargs)
    for blob in artifact.blobs:
        registry.push_blob(name, blob)
    registry.push_manifest(name, artifact.manifest.digest, artifact.manifest)
    return artifact


def referrers(client, digest: str, name: str = NAME, **params):
    response = client.get(f"/v2/{name}/referrers/{digest}", params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == builders.OCI_INDEX
    body = response.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == builders.OCI_INDEX
    return response, body["manifests"]


def test_no_referrers_is_an_empty_index(client, pushed_image):
    response, manifests = referrers(client, pushed_image.manifest.digest)
    assert manifests == []
    assert "OCI-Filters-Applied" not in response


def test_unknown_subject_and_unknown_repository_are_empty_not_404(client, pushed_image):
    assert referrers(client, sha256(b"nothing"))[1] == []
    assert referrers(client, pushed_image.manifest.digest, name="library/nowhere")[1] == []


def test_referrer_descriptor_uses_the_artifact_type_and_copies_annotations(client, registry, pushed_image):
    annotations = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "com.example.k": "v"}
    sbom = push_artifact(registry, NAME, pushed_image.manifest, "sbom", artifact_type=SBOM, annotations=annotations)
    _, manifests = referrers(client, pushed_image.manifest.digest)
    assert manifests == [{
        "mediaType": builders.OCI_MANIFEST,
        "digest": sbom.manifest.digest,
        "size": len(sbom.manifest.data),
        "artifactType": SBOM,
        "annotations": annotations,
    }]


def test_artifact_type_falls_back_to_the_config_media_type(client, registry, pushed_image):
    push_artifact(registry, NAME, pushed_image.manifest, "plain")
    _, manifests = referrers(client, pushed_image.manifest.digest)
    assert manifests[0]["artifactType"] == builders.OCI_CONFIG
    assert "annotations" not in manifests[0]


def test_index_referrer_without_artifact_type_omits_it(client, registry, pushed_image):
    child = builders.image("child")
    registry.push_image(NAME, child.manifest.digest, child)
    doc = json.loads(builders.index([child]).data)
    doc["subject"] = pushed_image.manifest.descriptor()
    with_type = dict(doc, artifactType=SIG)
    for document in (doc, with_type):
        idx = Blob(json.dumps(document).encode(), builders.OCI_INDEX)
        registry.push_manifest(NAME, idx.digest, idx)
    _, manifests = referrers(client, pushed_image.manifest.digest)
    by_type = {m.get("artifactType"): m for m in manifests}
    assert set(by_type) == {None, SIG}
    assert all(m["mediaType"] == builders.OCI_INDEX for m in manifests)


def test_artifact_type_filter_is_applied_and_announced(client, registry, pushed_image):
    sbom = push_artifact(registry, NAME, pushed_image.manifest, "sbom", artifact_type=SBOM)
    push_artifact(registry, NAME, pushed_image.manifest, "sig", artifact_type=SIG)
    response, manifests = referrers(client, pushed_image.manifest.digest, artifactType=SBOM)
    assert [m["digest"] for m in manifests] == [sbom.manifest.digest]
    assert response["OCI-Filters-Applied"] == "artifactType"
    response, manifests = referrers(client, pushed_image.manifest.digest)
    assert len(manifests) == 2
    assert "OCI-Filters-Applied" not in response


def test_filter_matching_nothing_is_an_empty_index(client, registry, pushed_image):
    push_artifact(registry, NAME, pushed_image.manifest, "sbom", artifact_type=SBOM)
    response, manifests = referrers(client, pushed_image.manifest.digest, artifactType="application/none")
    assert manifests == []
    assert response["OCI-Filters-Applied"] == "artifactType"


def test_only_referrers_in_the_same_repository_are_listed(client, registry, pushed_image):
    registry.push_image("library/other", "latest", pushed_image)
    push_artifact(registry, "library/other", pushed_image.manifest, "elsewhere", artifact_type=SBOM)
    assert referrers(client, pushed_image.manifest.digest)[1] == []
    assert len(referrers(client, pushed_image.manifest.digest, name="library/other")[1]) == 1


def test_referrers_of_an_absent_subject_are_listed(client, registry):
    absent = builders.image("never-pushed").manifest
    registry.push_blob(NAME, b"seed")  # the repository exists
    sig = push_artifact(registry, NAME, absent, "sig", artifact_type=SIG)
    assert [m["digest"] for m in referrers(client, absent.digest)[1]] == [sig.manifest.digest]


def test_deleted_referrer_is_no_longer_listed(client, registry, pushed_image):
    sbom = push_artifact(registry, NAME, pushed_image.manifest, "sbom", artifact_type=SBOM)
    client.delete(f"/v2/{NAME}/manifests/{sbom.manifest.digest}")
    assert referrers(client, pushed_image.manifest.digest)[1] == []


@pytest.mark.parametrize("digest", ["sha256:abc", "latest", "sha256-" + "a" * 64, "foo:" + "a" * 64])
def test_bad_digest_is_400(client, pushed_image, digest):
    assert_error(client.get(f"/v2/{NAME}/referrers/{digest}"), 400, "DIGEST_INVALID")


def test_fallback_tag_index_entries_are_included_once(client, registry, pushed_image):
    """Clients of registries without the API kept referrers in a `sha256-<hex>` tagged index."""
    subject = pushed_image.manifest.digest
    native = push_artifact(registry, NAME, pushed_image.manifest, "native", artifact_type=SBOM)
    legacy = push_artifact(registry, NAME, pushed_image.manifest, "legacy", artifact_type=SIG)
    # Pushed without a `subject` (as older clients did): only the fallback index knows it.
    old = builders.image("old-signature", layer_count=1, artifact_type=SIG)
    registry.push_image(NAME, old.manifest.digest, old)
    foreign = old.manifest.descriptor(artifactType=SIG)
    fallback = Blob(json.dumps({
        "schemaVersion": 2, "mediaType": builders.OCI_INDEX,
        "manifests": [native.manifest.descriptor(artifactType=SBOM), foreign],
    }).encode(), builders.OCI_INDEX)
    registry.push_manifest(NAME, subject.replace(":", "-"), fallback)
    _, manifests = referrers(client, subject)
    # In digest order, the key pages are cut by (see the paging tests below).
    assert [m["digest"] for m in manifests] == sorted([native.manifest.digest, legacy.manifest.digest, foreign["digest"]])
    response, filtered = referrers(client, subject, artifactType=SIG)
    assert [m["digest"] for m in filtered] == sorted([legacy.manifest.digest, foreign["digest"]])
    assert response["OCI-Filters-Applied"] == "artifactType"


# --- paging: at most REGISTRY_REFERRERS_PAGE_MAX (or n) a response, Link to the next ------------

LINK_RE = re.compile(r'^<(?P<url>/v2/[^>]+)>; rel="next"$')


def walk(client, url: str) -> tuple[list[list[str]], list[str]]:
    """Follow Link headers from `url`; returns the digests of each page and the links."""
    pages, links = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        pages.append([m["digest"] for m in response.json()["manifests"]])
        url = None
        if "Link" in response:
            match = LINK_RE.match(response["Link"])
            assert match, response["Link"]
            url = match.group("url")
            links.append(url)
    return pages, links


@pytest.fixture
def many_referrers(registry, pushed_image):
    """Seven referrers: five stored with a subject, two known only from the fallback index."""
    stored = [
        push_artifact(registry, NAME, pushed_image.manifest, f"ref{i}", artifact_type=SBOM if i % 2 else SIG)
        for i in range(5)
    ]
    legacy = [builders.image(f"old{i}", layer_count=1, artifact_type=SIG) for i in range(2)]
    for img in legacy:
        registry.push_image(NAME, img.manifest.digest, img)
    fallback = Blob(json.dumps({
        "schemaVersion": 2, "mediaType": builders.OCI_INDEX,
        "manifests": [stored[0].manifest.descriptor(artifactType=SIG)]
        + [img.manifest.descriptor(artifactType=SIG) for img in legacy],
    }).encode(), builders.OCI_INDEX)
    registry.push_manifest(NAME, pushed_image.manifest.digest.replace(":", "-"), fallback)
    return {img.manifest.digest: img for img in [*stored, *legacy]}


def test_referrers_are_paged_by_the_setting_with_links(client, settings, pushed_image, many_referrers):
    settings.REGISTRY_REFERRERS_PAGE_MAX = 3
    pages, links = walk(client, f"/v2/{NAME}/referrers/{pushed_image.manifest.digest}")
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [d for page in pages for d in page] == sorted(many_referrers)
    assert all("n=3" in link and "last=sha256%3A" in link for link in links)


def test_n_asks_for_smaller_pages_and_is_capped_by_the_setting(client, settings, pushed_image, many_referrers):
    settings.REGISTRY_REFERRERS_PAGE_MAX = 4
    subject = pushed_image.manifest.digest
    assert [len(p) for p in walk(client, f"/v2/{NAME}/referrers/{subject}?n=2")[0]] == [2, 2, 2, 1]
    assert [len(p) for p in walk(client, f"/v2/{NAME}/referrers/{subject}?n=50")[0]] == [4, 3]


def test_the_artifact_type_filter_is_kept_across_pages(client, settings, pushed_image, many_referrers):
    settings.REGISTRY_REFERRERS_PAGE_MAX = 2
    pages, links = walk(client, f"/v2/{NAME}/referrers/{pushed_image.manifest.digest}?artifactType={SIG}")
    wanted = sorted(d for d, img in many_referrers.items() if SIG in img.manifest.data.decode())
    assert [d for page in pages for d in page] == wanted
    assert all(f"artifactType={SIG.replace('/', '%2F')}" in link for link in links)


def test_a_page_that_holds_the_rest_has_no_link(client, settings, pushed_image, many_referrers):
    settings.REGISTRY_REFERRERS_PAGE_MAX = 7
    response = client.get(f"/v2/{NAME}/referrers/{pushed_image.manifest.digest}")
    assert len(response.json()["manifests"]) == 7 and "Link" not in response


@pytest.mark.parametrize("query", ["n=-1", "n=x", "last=sha256:abc"])
def test_bad_paging_parameters_are_400(client, pushed_image, query):
    response = client.get(f"/v2/{NAME}/referrers/{pushed_image.manifest.digest}?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["REGISTRY_PAGE_MAX", "REGISTRY_REFERRERS_PAGE_MAX"])
def test_a_page_maximum_below_one_is_a_system_check_error(settings, name):
    assert check_api_settings() == []
    setattr(settings, name, 0)
    assert [m.id for m in check_api_settings()] == ["registry_api.E004"]
