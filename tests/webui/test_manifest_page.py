"""The manifest page: pretty JSON, layers, image config, index platforms, referrers."""
from __future__ import annotations

import html
import json

import pytest

from tests import builders
from tests.api.support import Registry

from .conftest import Content, image_size

pytestmark = pytest.mark.django_db


def _page(client, name: str, digest: str) -> str:
    response = client.get(f"/repositories/{name}/manifests/{digest}/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_image_manifest_shows_layers_config_and_history(as_person, content: Content):
    page = _page(as_person("reader"), "team/app", content.v2.manifest.digest)
    assert json.dumps(json.loads(content.v2.manifest.data), indent=2) in page
    layers = page.split('id="layer-table"', 1)[1].split("</table>", 1)[0]
    for blob in content.v2.blobs:
        assert blob.digest[:19] in layers
    assert 'id="config-platform">linux/amd64<' in page
    assert 'id="config-cmd">/bin/true<' in page
    assert "<code>test.label</code></th><td>v2</td>" in page
    history = page.split('id="history-table"', 1)[1].split("</table>", 1)[0]
    assert history.count("<tr>") == 4  # header + one step per layer
    assert f'title="{content.v2.layers[2].digest}"' in history  # steps paired with their layers
    assert f'title="{image_size(content.v2)} bytes"' in page
    assert 'id="manifest-tags">v2<' in page


def test_index_shows_one_row_per_platform_linking_to_its_image(as_person, content: Content):
    page = _page(as_person("reader"), "team/multi", content.index.digest)
    children = page.split('id="children-table"', 1)[1].split("</table>", 1)[0]
    assert "linux/amd64" in children and "linux/arm64" in children
    assert f'href="/repositories/team/multi/manifests/{content.arm64.manifest.digest}/"' in children
    assert 'id="layer-table"' not in page


def test_referrers_are_listed_and_link_back_to_their_subject(client, settings, as_person, content: Content):
    signature = builders.image("sig", layer_count=1, subject=content.v1.manifest,
                               artifact_type="application/vnd.example.signature")
    settings.REGISTRY_AUTH_ENABLED = False
    Registry(client).push_image("team/app", signature.manifest.digest, signature)
    settings.REGISTRY_AUTH_ENABLED = True
    reader = as_person("reader")
    page = _page(reader, "team/app", content.v1.manifest.digest)
    referrers = page.split('id="referrer-table"', 1)[1].split("</table>", 1)[0]
    assert "application/vnd.example.signature" in referrers
    assert f'/repositories/team/app/manifests/{signature.manifest.digest}/' in referrers
    artifact = _page(reader, "team/app", signature.manifest.digest)
    assert f'href="/repositories/team/app/manifests/{content.v1.manifest.digest}/"' in artifact
    assert "<dt>Artifact type</dt><dd><code>application/vnd.example.signature</code>" in artifact


def test_a_config_missing_from_storage_is_reported_not_fatal(as_person, content: Content):
    from storage_backends import get_storage

    get_storage().delete(content.v1.config.digest)
    page = _page(as_person("reader"), "team/app", content.v1.manifest.digest)
    assert "The image config could not be shown: the config blob is missing from storage." in page


def test_unknown_digest_is_404(as_person, content: Content):
    client = as_person("reader")
    assert client.get(f"/repositories/team/app/manifests/{content.tool.manifest.digest}/").status_code == 404
    assert client.get("/repositories/team/app/manifests/sha256:" + "0" * 64 + "/").status_code == 404


def test_manifest_page_queries_are_bounded(as_person, content: Content, django_assert_max_num_queries):
    client = as_person("reader")
    with django_assert_max_num_queries(14):
        _page(client, "team/multi", content.index.digest)


def test_config_and_history_times_are_readable_with_the_exact_value_kept(client, settings, as_person, content: Content):
    image = builders.image("dated", created="2021-03-04T05:06:07.123456789Z")
    settings.REGISTRY_AUTH_ENABLED = False
    Registry(client).push_image("team/app", "dated", image)
    settings.REGISTRY_AUTH_ENABLED = True
    page = _page(as_person("reader"), "team/app", image.manifest.digest)
    created = page.split('id="config-created">', 1)[1].split("</dd>", 1)[0]
    assert created == ('<time datetime="2021-03-04T05:06:07.123456+00:00" title="2021-03-04T05:06:07.123456789Z">'
                       "2021-03-04 05:06 UTC</time>")
    history = page.split('id="history-table"', 1)[1].split("</table>", 1)[0]
    assert history.count('title="2021-03-04T05:06:07.123456789Z">2021-03-04 05:06 UTC</time>') == 2
    assert 'id="manifest-built"' in page


def test_every_layer_digest_has_a_copy_button(as_person, content: Content):
    page = _page(as_person("reader"), "team/app", content.v2.manifest.digest)
    layers = page.split('id="layer-table"', 1)[1].split("</table>", 1)[0]
    for i, layer in enumerate(content.v2.layers, start=1):
        assert f'data-copy="{layer.digest}" aria-label="Copy digest of layer {i}"' in layers
    assert f'data-copy="{content.v2.config.digest}" aria-label="Copy config digest"' in layers
    assert '<code class="breakable" id="pull-command">' in page


def test_the_size_is_blob_bytes_and_says_so(as_person, content: Content):
    page = _page(as_person("reader"), "team/multi", content.index.digest)
    size = page.split('id="manifest-size"', 1)[1].split("</dd>", 1)[0]
    assert f'title="{image_size(content.amd64, content.arm64)} bytes"' in size
    assert "the manifest itself" in size and "is not counted" in size


def test_an_index_shows_a_missing_child_as_missing(as_person, content: Content):
    from registry_api.models import Manifest

    Manifest.objects.filter(repository__name="team/multi", digest=content.arm64.manifest.digest).delete()
    page = _page(as_person("reader"), "team/multi", content.index.digest)
    children = page.split('id="children-table"', 1)[1].split("</table>", 1)[0]
    arm = children.split('data-platform="linux/arm64"', 1)[1].split("</tr>", 1)[0]
    assert "missing: not in this registry" in arm and "pulling this platform fails" in arm
    assert f'href="/repositories/team/multi/manifests/{content.arm64.manifest.digest}/"' not in arm
    assert '<tr class="missing" data-platform="linux/arm64">' in children
    assert 'class="missing"' not in children.split('data-platform="linux/amd64"', 1)[0]
