"""Manifests of proxy namespaces: served from the cache, fetched from upstream on a miss,
tags revalidated after the proxy's TTL.

  * By digest: immutable, so a cached manifest is served without asking upstream.
  * By tag, within the TTL of its last confirmation: served from the cache.
  * By tag, after the TTL: a HEAD upstream (Docker Hub does not count HEADs against its
    pull limit); the same digest renews the confirmation, another one fetches the new
    manifest and moves the tag. Upstream unreachable, refusing us, or answering nonsense:
    the cached manifest is served (stale) and a warning logged. Upstream answering 404:
    MANIFEST_UNKNOWN (the cache covers upstream outages, not upstream deletions; the
    cached tag stays until expiry or retention removes it).
Every manifest from upstream is checked before it is stored: the size cap, a manifest
media type, the JSON shape (mediatypes.parse_manifest), and its digest (the requested one,
or upstream's Docker-Content-Digest for a tag).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from ..db.locking import lock_repository
from ..models import Manifest, ManifestReference, PendingBlobReference, RepositoryBlob, Tag
from ..oci import mediatypes
from ..oci.errors import ManifestUnknown
from ..oci.reference import InvalidReference, is_digest_reference, parse_digest
from ..services.manifests import PULL_RECORD_INTERVAL, manifest_digest
from ..services.repositories import repository_ensure
from ..services.routing import Route
from .stats import HIT, MISS, STALE, proxy_record, proxy_record_error
from .upstream import UpstreamClient, UpstreamNotFound, UpstreamUnavailable, status_error

logger = logging.getLogger(__name__)

# Every manifest type we store, richest first: upstream answers a tag with its index.
ACCEPT = ", ".join([mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST, mediatypes.OCI_MANIFEST,
                    mediatypes.DOCKER_MANIFEST])


@dataclass(frozen=True)
class FetchedManifest:
    payload: bytes
    digest: str
    parsed: mediatypes.ParsedManifest


def _path(route: Route, reference: str) -> tuple[str, str]:
    return f"/v2/{route.upstream_name}/manifests/{reference}", f"repository:{route.upstream_name}:pull"


def _checked_digest(payload: bytes, reference: str, header: str | None) -> str:
    """The payload's digest, which must be the one asked for, or the one upstream announced."""
    expected = reference if is_digest_reference(reference) else (header or "").strip()
    if not expected:
        return manifest_digest(payload)
    try:
        algorithm = parse_digest(expected).algorithm
    except InvalidReference:
        raise UpstreamUnavailable(f"upstream announced an invalid digest {expected[:80]!r}") from None
    actual = manifest_digest(payload, algorithm)
    if actual != expected:
        raise UpstreamUnavailable(f"upstream manifest hashes to {actual}, not {expected}")
    return actual if is_digest_reference(reference) else manifest_digest(payload)


def manifest_fetch(*, route: Route, reference: str) -> FetchedManifest:
    """GET a manifest upstream and validate it; UpstreamNotFound / UpstreamUnavailable."""
    path, scope = _path(route, reference)
    response = UpstreamClient(route.proxy).send("GET", path, scope=scope, headers={"Accept": ACCEPT})
    if response.status != 200:
        raise status_error(response, f"manifest {route.upstream_name}:{reference}")
    payload = response.read_limited(settings.REGISTRY_MANIFEST_MAX_BYTES)
    declared = mediatypes.base_media_type(response.headers.get("Content-Type", ""))
    if declared not in (*mediatypes.MANIFEST_TYPES, *mediatypes.DOCKER_SCHEMA1):
        declared = ""  # e.g. application/json: the body's mediaType decides
    try:
        parsed = mediatypes.parse_manifest(payload, declared)
    except mediatypes.InvalidManifest as exc:
        raise UpstreamUnavailable(f"upstream manifest refused: {exc}") from None
    digest = _checked_digest(payload, reference, response.headers.get("Docker-Content-Digest"))
    return FetchedManifest(payload, digest, parsed)


def _head_digest(route: Route, tag: str) -> str | None:
    """The digest upstream has for `tag` now; None when its HEAD does not say."""
    path, scope = _path(route, tag)
    response = UpstreamClient(route.proxy).send("HEAD", path, scope=scope, headers={"Accept": ACCEPT})
    if response.status != 200:
        raise status_error(response, f"manifest {route.upstream_name}:{tag}")
    response.close()
    digest = (response.headers.get("Docker-Content-Digest") or "").strip()
    try:
        parse_digest(digest)
    except InvalidReference:
        return None
    return digest


def manifest_cache_store(*, route: Route, fetched: FetchedManifest, tag: str | None) -> Manifest:
    """Store an upstream manifest in the cache repository, and point `tag` at it.

    Blobs already cached in the repository are referenced at once; the others are noted
    as pending and referenced when they arrive (proxy/blobs.py), so garbage collection
    keeps them for this manifest like the blobs of a pushed one.
    """
    parsed = fetched.parsed
    repository = repository_ensure(name=route.local_name)
    now = timezone.now()
    with transaction.atomic():
        repository = lock_repository(repository.pk)
        manifest, created = Manifest.objects.get_or_create(
            repository=repository, digest=fetched.digest,
            defaults={"media_type": parsed.media_type, "payload": fetched.payload, "size": len(fetched.payload),
                      "artifact_type": parsed.artifact_type, "subject_digest": parsed.subject,
                      "annotations": parsed.annotations},
        )
        if created:
            wanted = {d.digest: d for d in parsed.blobs}
            linked = {link.blob.digest: link.blob for link in RepositoryBlob.objects.select_related("blob").filter(
                repository=repository, blob__digest__in=wanted)}
            ManifestReference.objects.bulk_create(
                [ManifestReference(manifest=manifest, blob=blob) for blob in linked.values()]
                + [ManifestReference(manifest=manifest, child_digest=c.digest) for c in parsed.children]
            )
            PendingBlobReference.objects.bulk_create([
                PendingBlobReference(manifest=manifest, digest=d.digest, size=d.size)
                for d in wanted.values() if d.digest not in linked
            ])
        if tag is not None:
            Tag.objects.update_or_create(
                repository=repository, name=tag, defaults={"manifest": manifest, "upstream_checked_at": now},
            )
    logger.info("proxy cached manifest repository=%s reference=%s digest=%s upstream=%s",
                route.local_name, tag or fetched.digest, fetched.digest, route.proxy.upstream_url)
    return manifest


def _unavailable(route: Route, reference: str, exc: Exception) -> ManifestUnknown:
    proxy_record_error(proxy=route.proxy, error=str(exc))
    logger.warning("proxy upstream failed repository=%s reference=%s: %s", route.local_name, reference, exc)
    if isinstance(exc, UpstreamNotFound):
        return ManifestUnknown(f"{route.upstream_name}:{reference} not found upstream at {route.proxy.upstream_url}",
                               detail={"reference": reference})
    return ManifestUnknown(
        f"{route.upstream_name}:{reference} is not cached and upstream {route.proxy.upstream_url} is "
        f"unavailable: {exc}", detail={"reference": reference},
    )


def _stale(route: Route, tag: Tag, exc: Exception) -> Manifest:
    logger.warning("proxy serving stale repository=%s tag=%s digest=%s: upstream %s: %s",
                   route.local_name, tag.name, tag.manifest.digest, route.proxy.upstream_url, exc)
    proxy_record(proxy=route.proxy, kind="manifest", outcome=STALE, error=str(exc))
    return tag.manifest


def _confirmed(route: Route, tag: Tag) -> Manifest:
    Tag.objects.filter(pk=tag.pk).update(upstream_checked_at=timezone.now())
    proxy_record(proxy=route.proxy, kind="manifest", outcome=HIT)
    return tag.manifest


def _by_digest(route: Route, digest: str) -> Manifest:
    manifest = Manifest.objects.filter(repository__name=route.local_name, digest=digest).first()
    if manifest is not None:
        proxy_record(proxy=route.proxy, kind="manifest", outcome=HIT)
        return manifest
    try:
        fetched = manifest_fetch(route=route, reference=digest)
    except (UpstreamNotFound, UpstreamUnavailable) as exc:
        raise _unavailable(route, digest, exc) from None
    proxy_record(proxy=route.proxy, kind="manifest", outcome=MISS)
    return manifest_cache_store(route=route, fetched=fetched, tag=None)


def proxy_manifest_get(*, route: Route, reference: str) -> Manifest:
    """The manifest a pull of `reference` through a proxy route gets (rules in the docstring)."""
    if is_digest_reference(reference):
        return _by_digest(route, reference)
    if not route.upstream_name:
        raise ManifestUnknown(detail={"reference": reference})
    tag = Tag.objects.select_related("manifest").filter(repository__name=route.local_name, name=reference).first()
    if tag is not None:
        checked = tag.upstream_checked_at
        if checked is not None and timezone.now() - checked < timedelta(seconds=route.proxy.manifest_ttl):
            proxy_record(proxy=route.proxy, kind="manifest", outcome=HIT)
            return tag.manifest
        try:
            if _head_digest(route, reference) == tag.manifest.digest:
                return _confirmed(route, tag)
        except UpstreamNotFound as exc:
            raise _unavailable(route, reference, exc) from None
        except UpstreamUnavailable as exc:
            return _stale(route, tag, exc)
    try:
        fetched = manifest_fetch(route=route, reference=reference)
    except UpstreamUnavailable as exc:
        if tag is not None:
            return _stale(route, tag, exc)
        raise _unavailable(route, reference, exc) from None
    except UpstreamNotFound as exc:
        raise _unavailable(route, reference, exc) from None
    if tag is not None and fetched.digest == tag.manifest.digest:
        return _confirmed(route, tag)  # upstream's HEAD did not name the digest
    proxy_record(proxy=route.proxy, kind="manifest", outcome=MISS)
    return manifest_cache_store(route=route, fetched=fetched, tag=reference)


def manifest_pull_record(*, manifest: Manifest) -> None:
    """Note a pull of a manifest through a proxy or group (proxy cache expiry reads it), at
    most once a minute; best effort, like Tag.last_pulled_at."""
    now = timezone.now()
    if manifest.last_pulled_at is not None and manifest.last_pulled_at >= now - PULL_RECORD_INTERVAL:
        return
    try:
        Manifest.objects.filter(Q(last_pulled_at__isnull=True) | Q(last_pulled_at__lt=now - PULL_RECORD_INTERVAL),
                                pk=manifest.pk).update(last_pulled_at=now)
    except DatabaseError:
        logger.warning("could not record a pull of manifest %s", manifest.pk, exc_info=True)
