"""Blobs of proxy namespaces: served from the cache, else fetched from upstream once and
streamed to the client while they are stored.

Fetch once. The first request that misses a digest inserts a ProxyFetch row (unique per
digest): an advisory lock in the database, so it holds across gunicorn workers, and across
hosts sharing the database. It opens an upload session in the cache repository and copies
upstream's body into the session and to the client at once (the tee), one chunk at a
time; the last chunk is held back until the digest is verified, so a corrupt upstream
breaks the response instead of completing it. The session is then committed through
`upload_commit`, as a push would be (verified again, quota, the garbage-collection
handshake); dropping the session drops the row. A client that goes away mid-stream does
not stop the fetch: the rest is still stored, for the others and the next pull.

Requests for the digest meanwhile find the row and follow the staged bytes as they grow
(storage `open_upload`), hashing them as well; with a backend that cannot read staged
bytes, or when upstream sent no length, they wait for the commit and serve the stored
blob. A fetch whose heartbeat is older than REGISTRY_PROXY_FETCH_STALE seconds (its worker
died) is taken over by the next request.

A blob already cached in another repository of the same proxy is linked rather than
fetched again (it came from the same upstream with the same credentials); one stored for
any other namespace is never handed out on the strength of a digest alone.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from storage_backends import get_storage
from storage_backends.base import UploadNotFound

from ..auth.access import Denied
from ..edge.http import CHUNK_SIZE
from ..models import Blob, ManifestReference, PendingBlobReference, ProxyFetch, Repository, RepositoryBlob, Upload
from ..oci.errors import BlobUnknown
from ..services.blobs import blob_register
from ..services.repositories import repository_ensure
from ..services.routing import Route
from ..services.uploads import upload_cancel, upload_commit, upload_start
from .stats import HIT, MISS, proxy_record, proxy_record_error
from .upstream import UpstreamClient, UpstreamNotFound, UpstreamUnavailable, status_error

logger = logging.getLogger(__name__)

FOLLOW_POLL = 0.02  # seconds between reads of a staged file that has not grown
STATE_CHECK = 0.5  # seconds between looks at the fetch row while following
WAIT_POLL = 0.1  # seconds between looks while waiting for a commit
ATTEMPTS = 3


class BlobStreamBroken(Exception):
    """Raised mid-response: the bytes cannot be completed or verified; the server then
    closes the connection, so the client sees a short body, never a wrong one."""


@dataclass
class BlobStream:
    """An uncached blob on its way: `size` is upstream's Content-Length (None if unsent)."""

    digest: str
    size: int | None
    chunks: Iterator[bytes]


class _Started:
    """The chunks of a BlobStream, with a way out for a response dropped before it sent a
    byte: a generator closed unstarted runs none of its own cleanup, and the fetch row
    would hold followers off until it went stale."""

    def __init__(self, chunks: Iterator[bytes], abandon) -> None:
        self._chunks, self._abandon, self._started = chunks, abandon, False

    def __iter__(self) -> "_Started":
        return self

    def __next__(self) -> bytes:
        self._started = True
        return next(self._chunks)

    def close(self) -> None:
        if not self._started:
            self._abandon()
        self._chunks.close()


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.REGISTRY_PROXY_FETCH_STALE)


def _heartbeat_every() -> float:
    return min(5.0, settings.REGISTRY_PROXY_FETCH_STALE / 3)


def pending_resolve(*, repository_name: str, blob: Blob) -> None:
    """Turn the cached manifests' pending references to `blob` into real ones."""
    with transaction.atomic():
        pending = PendingBlobReference.objects.select_for_update().filter(
            manifest__repository__name=repository_name, digest=blob.digest)
        manifest_ids = list(pending.values_list("manifest_id", flat=True))
        if manifest_ids:
            ManifestReference.objects.bulk_create([ManifestReference(manifest_id=m, blob=blob) for m in manifest_ids])
            PendingBlobReference.objects.filter(pk__in=list(pending.values_list("pk", flat=True))).delete()


def proxy_blob_cached(*, route: Route, digest: str) -> Blob | None:
    """The blob if cached in the route's repository, or in another of the same proxy (then linked here)."""
    if not route.upstream_name:  # the bare proxy namespace names no repository
        raise BlobUnknown(detail={"digest": digest})
    link = RepositoryBlob.objects.select_related("blob").filter(
        repository__name=route.local_name, blob__digest=digest).first()
    if link is not None:
        return link.blob
    sibling = RepositoryBlob.objects.select_related("blob").filter(
        repository__name__startswith=f"{route.proxy.name}/", blob__digest=digest).first()
    if sibling is None:
        return None
    repository = repository_ensure(name=route.local_name)
    try:
        blob_register(repository=repository, digest=digest, size=sibling.blob.size)
    except Denied:
        return sibling.blob  # over the namespace quota: served, not linked here
    pending_resolve(repository_name=repository.name, blob=sibling.blob)
    return sibling.blob


def _error(route: Route, digest: str, exc: Exception) -> BlobUnknown:
    proxy_record_error(proxy=route.proxy, error=str(exc))
    logger.warning("proxy upstream failed repository=%s digest=%s: %s", route.local_name, digest, exc)
    if isinstance(exc, UpstreamNotFound):
        return BlobUnknown(f"{digest} not found upstream at {route.proxy.upstream_url}", detail={"digest": digest})
    return BlobUnknown(f"{digest} is not cached in {route.local_name} and upstream {route.proxy.upstream_url} "
                       f"is unavailable: {exc}", detail={"digest": digest})


def _blob_path(route: Route, digest: str) -> tuple[str, str]:
    return f"/v2/{route.upstream_name}/blobs/{digest}", f"repository:{route.upstream_name}:pull"


def _checked_size(size: int | None, expected: int | None) -> None:
    cap = settings.REGISTRY_PROXY_BLOB_MAX_BYTES
    if size is not None and expected is not None and size != expected:
        raise UpstreamUnavailable(f"upstream announces {size} bytes, the manifest says {expected}")
    if cap and max(size or 0, expected or 0) > cap:
        raise UpstreamUnavailable(f"blob larger than REGISTRY_PROXY_BLOB_MAX_BYTES ({cap})")


def proxy_blob_size(*, route: Route, digest: str) -> int:
    """HEAD: the size of a cached blob, of one being fetched, or as upstream's HEAD says."""
    blob = proxy_blob_cached(route=route, digest=digest)
    if blob is not None:
        proxy_record(proxy=route.proxy, kind="blob", outcome=HIT)
        return blob.size
    in_progress = ProxyFetch.objects.filter(digest=digest, size__isnull=False).values_list("size", flat=True).first()
    if in_progress is not None:
        return in_progress
    path, scope = _blob_path(route, digest)
    try:
        response = UpstreamClient(route.proxy).send("HEAD", path, scope=scope)
        if response.status != 200:
            raise status_error(response, f"blob {digest}")
        response.close()
        size = response.content_length
        announced = response.headers.get("Docker-Content-Digest")
        if size is None or (announced and announced.strip() != digest):
            raise UpstreamUnavailable("upstream HEAD named no size or another digest")
        _checked_size(size, None)
    except (UpstreamNotFound, UpstreamUnavailable) as exc:
        raise _error(route, digest, exc) from None
    proxy_record(proxy=route.proxy, kind="blob", outcome=MISS)
    return size


def proxy_blob_get(*, route: Route, digest: str) -> Blob | BlobStream:
    """GET: the cached Blob, or a BlobStream of the fetch (ours, or another request's)."""
    blob = proxy_blob_cached(route=route, digest=digest)
    if blob is not None:
        proxy_record(proxy=route.proxy, kind="blob", outcome=HIT)
        return blob
    for _ in range(ATTEMPTS):
        fetch = _claim(digest)
        if fetch is not None:
            # Stored by a fetch that ended just before our claim?
            found = proxy_blob_cached(route=route, digest=digest)
            if found is None:
                return _fetch(route, digest, fetch)
            ProxyFetch.objects.filter(pk=fetch.pk).delete()
        else:
            current = ProxyFetch.objects.filter(digest=digest).first()
            if current is not None:
                found = _follow(route, digest, current)
            else:
                found = proxy_blob_cached(route=route, digest=digest)
        if found is not None:
            proxy_record(proxy=route.proxy, kind="blob", outcome=HIT)  # upstream was not asked again
            return found
    raise BlobUnknown(f"{digest}: the upstream fetch of another request failed; try again", detail={"digest": digest})


def _claim(digest: str) -> ProxyFetch | None:
    try:
        with transaction.atomic():
            return ProxyFetch.objects.create(digest=digest, heartbeat_at=timezone.now())
    except IntegrityError:
        return None


def _fetch(route: Route, digest: str, fetch: ProxyFetch) -> BlobStream:
    """Ours to fetch: ask upstream, then hand out the tee. The cache repository is made
    only once upstream has the blob, so failed pulls leave no empty repositories."""
    expected = PendingBlobReference.objects.filter(
        manifest__repository__name=route.local_name, digest=digest).values_list("size", flat=True).first()
    path, scope = _blob_path(route, digest)
    response = None
    try:
        response = UpstreamClient(route.proxy).send("GET", path, scope=scope)
        if response.status != 200:
            raise status_error(response, f"blob {digest}")
        _checked_size(response.content_length, expected)
        upload = upload_start(repository_name=route.local_name)
    except BaseException as exc:
        ProxyFetch.objects.filter(pk=fetch.pk).delete()
        if response is not None:
            response.close()
        if isinstance(exc, (UpstreamNotFound, UpstreamUnavailable)):
            raise _error(route, digest, exc) from None
        raise
    size = response.content_length
    ProxyFetch.objects.filter(pk=fetch.pk).update(upload=upload, size=size, heartbeat_at=timezone.now())
    proxy_record(proxy=route.proxy, kind="blob", outcome=MISS)
    logger.info("proxy fetching blob repository=%s digest=%s size=%s upstream=%s",
                route.local_name, digest, size if size is not None else "?", route.proxy.upstream_url)
    def abandon() -> None:
        response.close()
        upload_cancel(upload=upload)  # the fetch row goes with the session

    return BlobStream(digest, size, _Started(_tee(route, digest, upload, fetch.pk, response, size), abandon))


def _verify(digest: str, hasher, total: int, size: int | None) -> None:
    if size is not None and total != size:
        raise UpstreamUnavailable(f"upstream sent {total} of {size} bytes")
    actual = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
    if actual != digest:
        raise UpstreamUnavailable(f"upstream blob hashes to {actual}, not {digest}")


def _commit(route: Route, upload: Upload, digest: str) -> None:
    try:
        blob = upload_commit(upload=upload, digest=digest)
    except Denied as exc:
        # Verified already: the client gets its bytes; the cache just does not keep them.
        logger.warning("proxy blob not cached repository=%s digest=%s: %s", route.local_name, digest, exc.message)
        return
    pending_resolve(repository_name=upload.repository_name, blob=blob)
    logger.info("proxy cached blob repository=%s digest=%s size=%d", route.local_name, digest, blob.size)


def _tee(route, digest, upload, fetch_pk, response, size) -> Iterator[bytes]:
    """Upstream → storage and client; see the module docstring."""
    writer = get_storage().resume_upload(str(upload.id))
    hasher = hashlib.new(digest.partition(":")[0])
    cap = settings.REGISTRY_PROXY_BLOB_MAX_BYTES
    total, held, client, finished, beat = 0, None, True, False, time.monotonic()
    try:
        for chunk in response.iter_chunks():
            writer.write(chunk)
            hasher.update(chunk)
            total += len(chunk)
            if (size is not None and total > size) or (cap and total > cap):
                raise UpstreamUnavailable("upstream sent more bytes than announced or allowed")
            if time.monotonic() - beat >= _heartbeat_every():
                ProxyFetch.objects.filter(pk=fetch_pk).update(heartbeat_at=timezone.now())
                beat = time.monotonic()
            if held is not None and client:
                try:
                    yield held
                except GeneratorExit:
                    client = False  # finish storing it: others follow this fetch
                    logger.info("proxy client left; finishing the fetch of %s", digest)
            held = chunk
        _verify(digest, hasher, total, size)
        writer.close()
        _commit(route, upload, digest)
        finished = True
        if held is not None and client:
            yield held
    except BaseException as exc:
        if not finished:
            writer.close()
            upload_cancel(upload=upload)  # drops the fetch row with the session
            if isinstance(exc, UpstreamUnavailable):
                proxy_record_error(proxy=route.proxy, error=str(exc))
                logger.warning("proxy fetch failed repository=%s digest=%s: %s", route.local_name, digest, exc)
                raise BlobStreamBroken(f"{digest}: {exc}") from None
        raise
    finally:
        response.close()


def _is_stale(fetch: ProxyFetch) -> bool:
    return fetch.heartbeat_at < timezone.now() - _stale_after()


def _take_over(fetch: ProxyFetch) -> None:
    """Drop a fetch whose worker stopped beating, and its session, so we may claim it."""
    if ProxyFetch.objects.filter(pk=fetch.pk, heartbeat_at=fetch.heartbeat_at).delete()[0]:
        logger.warning("proxy fetch of %s went quiet since %s; taking it over", fetch.digest, fetch.heartbeat_at)
        upload = Upload.objects.filter(pk=fetch.upload_id).first() if fetch.upload_id else None
        if upload is not None:
            upload_cancel(upload=upload)


def _follow(route: Route, digest: str, fetch: ProxyFetch | None) -> Blob | BlobStream | None:
    """Serve another request's fetch; None when it went away without a blob (try again)."""
    opener = getattr(get_storage(), "open_upload", None)
    while fetch is not None:
        if _is_stale(fetch):
            _take_over(fetch)
            return None
        if fetch.upload_id is not None and fetch.size is not None and opener is not None:
            try:
                stream = opener(str(fetch.upload_id))
            except UploadNotFound:
                pass  # committed or failed just now: the row says which
            else:
                logger.info("proxy following the fetch of %s in %s", digest, route.local_name)
                chunks = _follow_chunks(stream, digest, fetch.size, fetch.pk)
                return BlobStream(digest, fetch.size, _Started(chunks, stream.close))
        time.sleep(WAIT_POLL)
        fetch = ProxyFetch.objects.filter(pk=fetch.pk).first()
    return proxy_blob_cached(route=route, digest=digest)


def _follow_chunks(stream, digest: str, size: int, fetch_pk: int) -> Iterator[bytes]:
    """The staged bytes as the fetch writes them, verified before the last chunk goes out."""
    hasher = hashlib.new(digest.partition(":")[0])
    sent, held, checked, progressed, ended = 0, None, 0.0, time.monotonic(), False
    try:
        while sent < size:
            chunk = stream.read(min(CHUNK_SIZE, size - sent))
            if chunk:
                hasher.update(chunk)
                sent += len(chunk)
                progressed = time.monotonic()
                if held is not None:
                    yield held
                held = chunk
                continue
            if ended:  # the row went after the last write: nothing more is coming
                raise BlobStreamBroken(f"{digest}: the fetch being followed ended short")
            now = time.monotonic()
            if now - checked >= STATE_CHECK:
                checked = now
                ended = not ProxyFetch.objects.filter(pk=fetch_pk).exists()
                if ended:
                    continue
            if now - progressed > settings.REGISTRY_PROXY_FETCH_STALE:
                raise BlobStreamBroken(f"{digest}: the fetch being followed stalled")
            time.sleep(FOLLOW_POLL)
        if f"{digest.partition(':')[0]}:{hasher.hexdigest()}" != digest:
            raise BlobStreamBroken(f"{digest}: the fetched bytes do not match the digest")
        if held is not None:
            yield held
    finally:
        stream.close()
