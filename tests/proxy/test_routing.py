"""Which names go where (registry_api/services/routing.py), as the README's table says."""
from __future__ import annotations

import pytest

from registry_api.models import GroupMember, GroupNamespace, Namespace, ProxyNamespace, Repository
from registry_api.oci.errors import NameInvalid
from registry_api.services import routing


@pytest.fixture
def configured(settings):
    ProxyNamespace.objects.create(name="hub", upstream_url="https://registry-1.docker.io", library_default=True)
    ProxyNamespace.objects.create(name="ghcr", upstream_url="https://ghcr.io")
    group = GroupNamespace.objects.create(name="all")
    GroupMember.objects.create(group=group, position=0, namespace="team")
    GroupMember.objects.create(group=group, position=1, namespace="hub")
    settings.REGISTRY_MIRROR_NS = {"ghcr.io": "ghcr"}
    return settings


def _where(route: routing.Route) -> tuple[str, str, str]:
    return route.kind, route.local_name, route.upstream_name


@pytest.mark.parametrize(("mirror", "name", "ns", "expected"), [
    ("", "team/app", None, ("hosted", "team/app", "")),
    ("", "hub/alpine", None, ("proxy", "hub/library/alpine", "library/alpine")),
    ("", "hub/library/alpine", None, ("proxy", "hub/library/alpine", "library/alpine")),
    ("", "hub/bitnami/redis", None, ("proxy", "hub/bitnami/redis", "bitnami/redis")),
    ("", "ghcr/owner/tool", None, ("proxy", "ghcr/owner/tool", "owner/tool")),
    ("", "ghcr/tool", None, ("proxy", "ghcr/tool", "tool")),  # no library/ default there
    ("", "library/alpine", None, ("hosted", "library/alpine", "")),  # mirror off
    ("hub", "library/alpine", None, ("proxy", "hub/library/alpine", "library/alpine")),
    ("hub", "team/app", None, ("hosted", "team/app", "")),
    ("hub", "bitnami/redis", None, ("hosted", "bitnami/redis", "")),  # unhosted mode off
    ("", "owner/tool", "ghcr.io", ("proxy", "ghcr/owner/tool", "owner/tool")),
    ("", "team/app", "quay.io", ("hosted", "team/app", "")),  # an ns nobody maps is ignored
    ("", "library/alpine", "docker.io", ("hosted", "library/alpine", "")),  # docker.io needs the mirror
    ("hub", "library/alpine", "docker.io", ("proxy", "hub/library/alpine", "library/alpine")),
    ("hub", "team/app", "docker.io", ("proxy", "hub/team/app", "team/app")),  # the client asked for Hub's
    ("", "all/app", None, ("group", "all/app", "")),
])
def test_pull_routes(configured, mirror, name, ns, expected):
    configured.REGISTRY_MIRROR_PROXY = mirror
    route = routing.route(name, ns=ns)
    assert _where(route) == expected
    assert route.namespace == (ns if ns and route.kind == "proxy" else "")
    assert route.read_only == (expected[0] != "hosted")


def test_group_members_route_in_order(configured):
    route = routing.route("all/alpine")
    assert [_where(m) for m in route.members] == [
        ("hosted", "team/alpine", ""), ("proxy", "hub/library/alpine", "library/alpine")]


def test_writes_ignore_ns_and_the_unhosted_mirror(configured):
    configured.REGISTRY_MIRROR_PROXY, configured.REGISTRY_MIRROR_UNHOSTED = "hub", True
    assert routing.route("newteam/app", write=True).kind == "hosted"  # a first push makes it hosted
    assert routing.route("newteam/app").kind == "proxy"
    assert routing.route("owner/tool", ns="ghcr.io", write=True).kind == "hosted"
    assert routing.route("library/alpine", write=True).kind == "proxy"  # library/ stays the mirror's


def test_unhosted_mode_keeps_hosted_namespaces_here(configured):
    configured.REGISTRY_MIRROR_PROXY, configured.REGISTRY_MIRROR_UNHOSTED = "hub", True
    Repository.objects.create(name="team/app")
    Namespace.objects.create(name="secret")
    # Names in hosted namespaces never go upstream: a typo must not ask Docker Hub for it.
    assert routing.route("team/typo").kind == "hosted"
    assert routing.route("secret/app").kind == "hosted"
    assert _where(routing.route("bitnami/redis")) == ("proxy", "hub/bitnami/redis", "bitnami/redis")


def test_a_name_too_long_once_prefixed_is_invalid(configured):
    long_name = "hub/" + "a" * 226
    with pytest.raises(NameInvalid):
        routing.route(long_name.replace("hub/", "hub/library/", 1))
    configured.REGISTRY_MIRROR_PROXY = "hub"
    assert routing.permission_target("library/" + "a" * 222) is None


def test_the_configuration_is_cached_and_saving_refreshes_it(configured, django_assert_num_queries):
    routing.route("team/app")
    with django_assert_num_queries(0):
        routing.route("team/app")
    ProxyNamespace.objects.create(name="quay", upstream_url="https://quay.io")
    assert routing.route("quay/x/y").kind == "proxy"


def test_the_cache_expires_for_changes_made_elsewhere(configured, settings):
    routing.route("team/app")
    ProxyNamespace.objects.filter(name="hub").update(name="hub2")  # as another process would: no signal here
    assert routing.route("hub2/x").kind == "hosted"
    settings.REGISTRY_PROXY_CONFIG_TTL = 0
    assert routing.route("hub2/x").kind == "proxy"
