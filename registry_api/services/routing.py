"""Which repository a /v2/ name means: hosted here, a proxy cache of an upstream registry,
or a group of namespaces. The one place this is decided, for the views and access control.

A pull of `<name>` routes by the first rule that applies:
  1. `?ns=<host>` that REGISTRY_MIRROR_NS maps to a proxy (containerd's mirror sends
     `?ns=docker.io`): the whole name is the upstream name in that proxy, whatever it is.
  2. `<proxy>/<rest>`: `<rest>` upstream (`library/<rest>` for a one-component rest when the
     proxy has Docker Hub's default), cached as repository `<proxy>/<upstream name>`.
  3. `<group>/<rest>`: `<member>/<rest>` for each member namespace in order (each member
     routed by rule 2 if it is a proxy, else hosted).
  4. With REGISTRY_MIRROR_PROXY set (the docker daemon's `registry-mirrors`, which asks for
     `library/alpine` with no prefix): `library/<rest>` in that proxy; with
     REGISTRY_MIRROR_UNHOSTED also any name whose namespace is not hosted here (no
     repository and no Namespace row under that first component).
  5. Everything else is hosted.
Pushes and deletes route by the same rules except 1 and the unhosted half of 4 (a push
to a new namespace makes it hosted); any route but hosted is read-only.

The proxy and group configuration is read from the database at most once every
REGISTRY_PROXY_CONFIG_TTL seconds per process (at once in the process that saved a change),
so a hosted pull pays no query for it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q

from ..oci.errors import NameInvalid
from ..oci.reference import InvalidReference, validate_name

HOSTED, PROXY, GROUP = "hosted", "proxy", "group"
MIRRORED_NAMESPACE = "library"


@dataclass(frozen=True)
class ProxyConfig:
    """A ProxyNamespace row as routing and the upstream client need it."""

    pk: int
    name: str
    upstream_url: str
    library_default: bool
    manifest_ttl: int
    username: str = ""
    password_encrypted: str = field(default="", repr=False)
    password_env: str = ""

    def upstream_name(self, rest: str) -> str:
        if self.library_default and rest and "/" not in rest:
            return f"{MIRRORED_NAMESPACE}/{rest}"
        return rest


@dataclass(frozen=True)
class Route:
    kind: str  # HOSTED, PROXY or GROUP
    name: str  # as the client wrote it
    # The repository holding the content: the name itself, or `<proxy>/<upstream name>`;
    # a group's own name (its content stays in its members).
    local_name: str
    proxy: ProxyConfig | None = None
    upstream_name: str = ""
    members: tuple[Route, ...] = ()
    # The `?ns=` host this route honours, echoed in the OCI-Namespace response header.
    namespace: str = ""

    @property
    def read_only(self) -> bool:
        return self.kind != HOSTED

    def describe(self) -> str:
        if self.kind == PROXY:
            return f"{self.local_name} (a pull-through cache of {self.proxy.upstream_url})"
        if self.kind == GROUP:
            return f"{self.name} (a group of {', '.join(m.name.split('/', 1)[0] for m in self.members)})"
        return self.name


@dataclass(frozen=True)
class _Config:
    loaded_at: float
    proxies: dict[str, ProxyConfig]
    groups: dict[str, tuple[str, ...]]


_lock = threading.Lock()
_config: _Config | None = None


def config_cache_clear(**kwargs) -> None:
    """Forget the configuration (connected to saves and deletes of the proxy models)."""
    global _config
    with _lock:
        _config = None


def _load() -> _Config:
    from ..models import GroupMember, GroupNamespace, ProxyNamespace

    proxies = {
        p.name: ProxyConfig(p.pk, p.name, p.upstream_url.rstrip("/"), p.library_default, p.manifest_ttl,
                            p.username, p.password_encrypted, p.password_env)
        for p in ProxyNamespace.objects.all()
    }
    groups: dict[str, list[str]] = {name: [] for name in GroupNamespace.objects.values_list("name", flat=True)}
    members = GroupMember.objects.order_by("group_id", "position", "pk").values_list("group__name", "namespace")
    for group, namespace in members:
        groups.setdefault(group, []).append(namespace)
    return _Config(time.monotonic(), proxies, {name: tuple(m) for name, m in groups.items()})


def _current() -> _Config:
    global _config
    config = _config
    if config is None or time.monotonic() - config.loaded_at >= settings.REGISTRY_PROXY_CONFIG_TTL:
        config = _load()
        with _lock:
            _config = config
    return config


def proxies() -> dict[str, ProxyConfig]:
    return _current().proxies


def groups() -> dict[str, tuple[str, ...]]:
    return _current().groups


def namespace_proxies() -> dict[str, ProxyConfig]:
    """`?ns=` host → proxy: REGISTRY_MIRROR_NS, and docker.io for REGISTRY_MIRROR_PROXY."""
    configured = proxies()
    mapping = dict(settings.REGISTRY_MIRROR_NS)
    if settings.REGISTRY_MIRROR_PROXY:
        mapping.setdefault("docker.io", settings.REGISTRY_MIRROR_PROXY)
    return {host: configured[name] for host, name in mapping.items() if name in configured}


def _proxy_route(name: str, proxy: ProxyConfig, upstream_name: str, namespace: str = "") -> Route:
    local_name = f"{proxy.name}/{upstream_name}" if upstream_name else proxy.name
    try:
        validate_name(local_name)
    except InvalidReference as exc:
        raise NameInvalid(f"{exc} (as cached in {proxy.name})", detail={"name": local_name[:300]}) from None
    return Route(PROXY, name, local_name, proxy=proxy, upstream_name=upstream_name, namespace=namespace)


def _is_hosted_namespace(namespace: str) -> bool:
    from ..models import Namespace, Repository

    return (
        Namespace.objects.filter(name=namespace).exists()
        or Repository.objects.filter(Q(name=namespace) | Q(name__startswith=f"{namespace}/")).exists()
    )


def _member_route(namespace: str, rest: str, configured: dict[str, ProxyConfig]) -> Route | None:
    name = f"{namespace}/{rest}"
    try:
        validate_name(name)
        if namespace in configured:
            return _proxy_route(name, configured[namespace], configured[namespace].upstream_name(rest))
    except (InvalidReference, NameInvalid):
        return None  # too long once prefixed: this member cannot hold it
    return Route(HOSTED, name, name)


def route(name: str, *, ns: str | None = None, write: bool = False) -> Route:
    """The route of a validated repository name (rules in the module docstring)."""
    config = _current()
    if ns and not write:
        proxy = namespace_proxies().get(ns.lower())
        if proxy is not None:
            return _proxy_route(name, proxy, proxy.upstream_name(name), namespace=ns.lower())
    first, _, rest = name.partition("/")
    if first in config.proxies:
        proxy = config.proxies[first]
        return _proxy_route(name, proxy, proxy.upstream_name(rest))
    if first in config.groups:
        members = tuple(m for m in (_member_route(ns_, rest, config.proxies) for ns_ in config.groups[first]) if m)
        return Route(GROUP, name, name, members=members if rest else ())
    mirror = config.proxies.get(settings.REGISTRY_MIRROR_PROXY) if settings.REGISTRY_MIRROR_PROXY else None
    if mirror is not None and rest:
        if first == MIRRORED_NAMESPACE:
            return _proxy_route(name, mirror, name)
        if settings.REGISTRY_MIRROR_UNHOSTED and not write and not _is_hosted_namespace(first):
            return _proxy_route(name, mirror, name)
    return Route(HOSTED, name, name)


def permission_target(name: str, *, write: bool = False) -> Route | None:
    """The route whose rights govern `name` (None for a name that cannot be routed)."""
    try:
        return route(name, write=write)
    except NameInvalid:
        return None

