"""Push direction: local storage → a remote, in the order that never shows a half image.

For one manifest: its children first (an index's platforms), then its blobs, then the
manifest itself by digest or tag, then (when the rule says so) the manifests whose
subject it is. A blob the remote has is skipped (HEAD); one it holds in another
repository we sent it to is mounted; others are streamed from storage in chunks, their
digest checked on the way. A run that failed halfway therefore resumes where it stopped.
"""
from __future__ import annotations

import time

from registry_api.models import Blob, Manifest, Repository, Tag
from registry_api.oci import mediatypes
from registry_api.oci.errors import BlobUnknown, RegistryError
from registry_api.oci.reference import is_digest_reference
from registry_api.services.blobs import blob_open
from storage_backends.base import StorageError

from .client import DeleteUnsupported, RemoteError
from .copier import Copier
from .log import RunLog, State
from .models import Artifact, Rule
from .rules import destination_name, tag_matcher

ARTIFACT_ERRORS = (RemoteError, RegistryError, StorageError, mediatypes.InvalidManifest, OSError)
ACCEPT = ", ".join(mediatypes.MANIFEST_TYPES)


class PushCopier(Copier):
    errors = ARTIFACT_ERRORS

    def __init__(self, rule: Rule, log: RunLog) -> None:
        super().__init__(rule, log)
        self._remote_tags: dict[str, dict[str, str | None]] = {}

    def copy(self, source: str, dest: str, reference: str) -> None:
        manifest = _local_manifest(source, reference)
        if manifest is None:  # deleted or moved away since the job was queued
            self.log.note(kind="manifest", repository=dest, tag=reference, state=State.SKIPPED,
                          error="no longer here")
            return
        self._manifest(manifest, dest, manifest.digest if is_digest_reference(reference) else reference)

    def delete(self, source: str, reference: str) -> None:
        dest = destination_name(source, self.rule.destination_prefix)
        started = time.monotonic()
        with self.log.failure_of(kind="delete", repository=dest, tag=reference, errors=ARTIFACT_ERRORS):
            try:
                deleted = self.client.manifest_delete(dest, reference)
            except DeleteUnsupported:
                if is_digest_reference(reference):
                    raise
                self._untag_by_digest(dest, reference, started)
                return
            self.log.note(kind="delete", repository=dest, tag=reference, started=started,
                          state=State.DELETED if deleted else State.SKIPPED)

    def _untag_by_digest(self, dest: str, tag: str, started: float) -> None:
        """For a remote that deletes only by digest (Distribution 2.x): deleting the
        manifest removes every tag naming it there, so it is done only when `tag` is the
        last; otherwise the tag stays, noted as such rather than as a failure."""
        digests = self._remote_digests(dest)
        digest = digests.get(tag)
        if digest is None:
            self.log.note(kind="delete", repository=dest, tag=tag, state=State.SKIPPED, started=started)
            return
        others = sorted(t for t, d in digests.items() if d == digest and t != tag)
        if others:
            self.log.note(kind="delete", repository=dest, tag=tag, digest=digest, state=State.SKIPPED,
                          started=started, error=f"the remote cannot delete tags, and {', '.join(others[:5])} "
                                                 f"still name {digest}: tag left in place")
            return
        deleted = self.client.manifest_delete(dest, digest)
        for name in [t for t, d in digests.items() if d == digest]:
            del digests[name]
        self.log.note(kind="delete", repository=dest, tag=tag, digest=digest, started=started,
                      state=State.DELETED if deleted else State.SKIPPED)

    def _remote_digests(self, dest: str) -> dict[str, str | None]:
        """What each of the remote's tags in `dest` names, read once per run."""
        if dest not in self._remote_tags:
            self._remote_tags[dest] = {tag: self.client.manifest_digest(dest, tag, ACCEPT)
                                       for tag in self.client.tags(dest, missing_ok=True)}
        return self._remote_tags[dest]

    def prune(self, source: str, kept: list[str]) -> None:
        """Full passes of rules that replicate deletes: tags the remote has (within the
        filter) that are no longer here are deleted there."""
        dest = destination_name(source, self.rule.destination_prefix)
        wanted = tag_matcher(self.rule.tag_filter)
        for tag in self.client.tags(dest, missing_ok=True):
            if wanted(tag) and tag not in kept:
                self.delete(source, tag)

    def _manifest(self, manifest: Manifest, dest: str, reference: str) -> None:
        started = time.monotonic()
        tag = "" if reference == manifest.digest else reference
        if self.client.manifest_digest(dest, reference, ACCEPT) == manifest.digest:
            self.log.note(kind="manifest", repository=dest, digest=manifest.digest, tag=tag, state=State.SKIPPED)
        else:
            payload = bytes(manifest.payload)
            parsed = mediatypes.parse_manifest(payload, manifest.media_type)
            for child in parsed.children:
                child_manifest = _local_manifest(manifest.repository.name, child.digest)
                if child_manifest is None:
                    raise RemoteError(f"index {manifest.digest} names {child.digest}, which is not here")
                self._manifest(child_manifest, dest, child.digest)
            for descriptor in parsed.blobs:
                self._blob(dest, descriptor.digest)
            self.client.manifest_put(dest, reference, payload, manifest.media_type, manifest.digest)
            self.log.note(kind="manifest", repository=dest, digest=manifest.digest, tag=tag, state=State.COPIED,
                          size=len(payload), started=started)
        if self.rule.include_referrers:
            for referrer in Manifest.objects.filter(repository_id=manifest.repository_id,
                                                    subject_digest=manifest.digest).select_related("repository"):
                self._manifest(referrer, dest, referrer.digest)

    def _blob(self, dest: str, digest: str) -> None:
        started = time.monotonic()
        if self.client.blob_exists(dest, digest):
            self.log.note(kind="blob", repository=dest, digest=digest, state=State.SKIPPED)
            return
        elsewhere = (
            Artifact.objects.filter(run__job__rule__remote=self.rule.remote, digest=digest, kind="blob",
                                    state__in=(State.COPIED, State.MOUNTED, State.SKIPPED))
            .exclude(repository=dest).order_by("-id").values_list("repository", flat=True).first()
        )
        if elsewhere and self.client.blob_mount(dest, digest, elsewhere):
            self.log.note(kind="blob", repository=dest, digest=digest, state=State.MOUNTED, started=started)
            return
        blob = Blob.objects.filter(digest=digest).first()
        if blob is None:  # collected since the manifest was pushed: nothing to send
            raise BlobUnknown(f"blob {digest} is not stored here", detail={"digest": digest})
        with blob_open(blob=blob) as stream:
            sent = self.client.blob_upload(dest, digest, blob.size, stream)
        self.log.note(kind="blob", repository=dest, digest=digest, state=State.COPIED, size=sent, started=started)


def _local_manifest(repository: str, reference: str) -> Manifest | None:
    if is_digest_reference(reference):
        return Manifest.objects.select_related("repository").filter(
            repository__name=repository, digest=reference).first()
    tag = Tag.objects.select_related("manifest__repository").filter(repository__name=repository,
                                                                     name=reference).first()
    return tag.manifest if tag else None


def local_tags(repository: str) -> list[str]:
    return list(Tag.objects.filter(repository__name=repository).order_by("name").values_list("name", flat=True))


def local_repositories() -> list[str]:
    return list(Repository.objects.order_by("name").values_list("name", flat=True))
