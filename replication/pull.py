"""Pull direction: a remote → here, written through the registry's own services.

Manifests are fetched and checked as the proxy checks them (size cap, media type, JSON
shape, digest: registry_api/proxy/manifests.py); blobs are streamed into
`upload_monolithic`, which verifies the digest before anything becomes visible, and
manifests stored with `manifest_put`, so quotas, the audit trail and webhooks see a
replicated image as they see a push. The same order as pushing: children, blobs, the
manifest, then its referrers.
"""
from __future__ import annotations

import time

from registry_api.models import Manifest, RepositoryBlob, Tag
from registry_api.oci import mediatypes
from registry_api.oci.errors import RegistryError
from registry_api.oci.reference import is_digest_reference
from registry_api.proxy.manifests import FetchedManifest, manifest_fetch
from registry_api.proxy.upstream import UpstreamNotFound, UpstreamUnavailable
from registry_api.services.manifests import manifest_delete, manifest_put
from registry_api.services.routing import PROXY, Route
from registry_api.services.uploads import blob_mount, upload_monolithic
from storage_backends.base import StorageError

from .client import RemoteError
from .copier import Copier
from .log import State
from .rules import destination_name, tag_matcher

ARTIFACT_ERRORS = (RemoteError, UpstreamUnavailable, UpstreamNotFound, RegistryError, StorageError,
                   mediatypes.InvalidManifest, OSError)


class PullCopier(Copier):
    errors = ARTIFACT_ERRORS

    def copy(self, source: str, dest: str, reference: str) -> None:
        self._manifest(source, dest, reference)

    def prune(self, source: str, kept: list[str]) -> None:
        """Full passes of rules that replicate deletes: tags here (within the filter) that
        the remote no longer has are deleted here, through the registry's delete service."""
        dest = destination_name(source, self.rule.destination_prefix)
        wanted = tag_matcher(self.rule.tag_filter)
        for tag in Tag.objects.filter(repository__name=dest).values_list("name", flat=True):
            if wanted(tag) and tag not in kept:
                started = time.monotonic()
                with self.log.failure_of(kind="delete", repository=dest, tag=tag, errors=self.errors):
                    manifest_delete(repository_name=dest, reference=tag)
                    self.log.note(kind="delete", repository=dest, tag=tag, state=State.DELETED, started=started)

    def _manifest(self, source: str, dest: str, reference: str) -> str:
        started = time.monotonic()
        route = Route(kind=PROXY, name=source, local_name=dest, proxy=self.rule.remote, upstream_name=source)
        fetched: FetchedManifest = manifest_fetch(route=route, reference=reference)
        tag = "" if is_digest_reference(reference) else reference
        if _held(dest, fetched.digest, tag):
            self.log.note(kind="manifest", repository=dest, digest=fetched.digest, tag=tag, state=State.SKIPPED)
        else:
            for child in fetched.parsed.children:
                self._manifest(source, dest, child.digest)
            for descriptor in fetched.parsed.blobs:
                self._blob(source, dest, descriptor)
            manifest_put(repository_name=dest, reference=reference, payload=fetched.payload,
                         content_type=fetched.parsed.media_type)
            self.log.note(kind="manifest", repository=dest, digest=fetched.digest, tag=tag, state=State.COPIED,
                          size=len(fetched.payload), started=started)
        if self.rule.include_referrers:
            for digest in self.client.referrers(source, fetched.digest):
                self._manifest(source, dest, digest)
        return fetched.digest

    def _blob(self, source: str, dest: str, descriptor: mediatypes.Descriptor) -> None:
        started = time.monotonic()
        digest = descriptor.digest
        if RepositoryBlob.objects.filter(repository__name=dest, blob__digest=digest).exists():
            self.log.note(kind="blob", repository=dest, digest=digest, state=State.SKIPPED)
            return
        holder = (RepositoryBlob.objects.filter(blob__digest=digest).order_by()
                  .values_list("repository__name", flat=True).first())
        if holder and blob_mount(repository_name=dest, digest=digest, from_name=holder):
            self.log.note(kind="blob", repository=dest, digest=digest, state=State.MOUNTED, started=started)
            return
        response = self.client.blob_stream(source, digest)
        try:
            if response.content_length is not None and response.content_length != descriptor.size:
                raise RemoteError(f"remote sends {response.content_length} bytes for {digest}, "
                                  f"the manifest says {descriptor.size}")
            upload_monolithic(repository_name=dest, digest=digest, chunks=response.iter_chunks(),
                              declared_length=descriptor.size)
        finally:
            response.close()
        self.log.note(kind="blob", repository=dest, digest=digest, state=State.COPIED, size=descriptor.size,
                      started=started)


def _held(dest: str, digest: str, tag: str) -> bool:
    """Whether this registry already has the manifest (and the tag pointing at it)."""
    if tag:
        return Tag.objects.filter(repository__name=dest, name=tag, manifest__digest=digest).exists()
    return Manifest.objects.filter(repository__name=dest, digest=digest).exists()
