"""The OCI verbs replication needs against a remote, over the proxy's upstream client.

Authentication (anonymous, Basic, the Docker token protocol), redirects that never carry
credentials to another host, time limits and answer caps are the proxy's
(registry_api/proxy/upstream.py); this adds what pushing needs: blob HEAD, cross-repository
mount, monolithic and chunked uploads streamed from a file object with the digest checked
before the closing PUT, manifest PUT and DELETE, the catalog and referrers.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import urlencode, urljoin

from django.conf import settings

from registry_api.edge.http import CHUNK_SIZE
from registry_api.oci.reference import is_digest_reference
from registry_api.proxy.upstream import (
    UpstreamClient, UpstreamResponse, UpstreamUnavailable, status_error,
)

# A catalog or referrers answer larger than this is not one we asked for.
MAX_LIST_RESPONSE = 4 * 1024 * 1024
MAX_ERROR_RESPONSE = 64 * 1024
# A catalog or tag list longer than this many pages is refused rather than half read.
MAX_LIST_PAGES = 1000
NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class RemoteError(Exception):
    """The remote refused, failed or answered nonsense; the message says which."""


class DeleteUnsupported(RemoteError):
    """The remote refused to delete a tag as such: Distribution 2.x deletes manifests by
    digest only. The spec's answer is 405 UNSUPPORTED; Distribution 2.8 answers 400
    DIGEST_INVALID (it reads the tag as a malformed digest)."""


# Error codes of a 400 to DELETE …/manifests/<tag> that mean "not by tag".
TAG_DELETE_REFUSALS = {"UNSUPPORTED", "DIGEST_INVALID"}


def _push_scope(name: str) -> str:
    return f"repository:{name}:pull,push"


def _pull_scope(name: str) -> str:
    return f"repository:{name}:pull"


class RemoteClient:
    def __init__(self, remote) -> None:
        try:
            self.http = UpstreamClient(remote, timeout=settings.REGISTRY_REPLICATION_TIMEOUT)
        except UpstreamUnavailable as exc:
            raise RemoteError(str(exc)) from None
        self.remote = remote

    def _send(self, method: str, path: str, *, scope: str, **kwargs) -> UpstreamResponse:
        try:
            return self.http.send(method, path, scope=scope, **kwargs)
        except UpstreamUnavailable as exc:
            raise RemoteError(str(exc).replace("upstream", "remote")) from None

    def _expect(self, response: UpstreamResponse, statuses: tuple[int, ...], what: str) -> UpstreamResponse:
        if response.status not in statuses:
            raise RemoteError(str(status_error(response, what)).replace("upstream", "remote"))
        return response

    # -- reading ---------------------------------------------------------------------------
    def ping(self, name: str = "") -> None:
        """GET /v2/, authenticated for `name` when given: what "test connection" runs."""
        scope = _pull_scope(name) if name else "registry:catalog:*"
        self._expect(self._send("GET", "/v2/", scope=scope), (200,), "GET /v2/").close()

    def blob_exists(self, name: str, digest: str) -> bool:
        response = self._send("HEAD", f"/v2/{name}/blobs/{digest}", scope=_push_scope(name))
        response.close()
        if response.status == 404:
            return False
        self._expect(response, (200,), f"HEAD blob {digest}")
        return True

    def manifest_digest(self, name: str, reference: str, accept: str) -> str | None:
        """The digest the remote has under `reference`, None if nothing."""
        response = self._send("HEAD", f"/v2/{name}/manifests/{reference}", scope=_pull_scope(name),
                              headers={"Accept": accept})
        response.close()
        if response.status == 404:
            return None
        self._expect(response, (200,), f"HEAD manifest {name}:{reference}")
        return (response.headers.get("Docker-Content-Digest") or "").strip() or None

    def blob_stream(self, name: str, digest: str) -> UpstreamResponse:
        response = self._send("GET", f"/v2/{name}/blobs/{digest}", scope=_pull_scope(name))
        return self._expect(response, (200,), f"blob {name}@{digest}")

    def _json(self, path: str, scope: str, what: str, missing: dict | None = None) -> dict:
        """The JSON object answered; `missing` (when given) if the remote answers 404."""
        return self._json_page(path, scope, what, missing)[0]

    def _json_page(self, path: str, scope: str, what: str, missing: dict | None) -> tuple[dict, str | None]:
        """The JSON object answered, and the URL its `Link: <…>; rel="next"` names, if any."""
        response = self._send("GET", path, scope=scope)
        if response.status == 404 and missing is not None:
            response.close()
            return missing, None
        self._expect(response, (200,), what)
        link = NEXT_LINK.search(response.headers.get("Link") or "")
        try:
            body = json.loads(response.read_limited(MAX_LIST_RESPONSE))
        except (UpstreamUnavailable, ValueError) as exc:
            raise RemoteError(f"{what}: {exc or 'not JSON'}") from None
        if not isinstance(body, dict):
            raise RemoteError(f"{what}: not a JSON object")
        return body, self._url(link.group(1)) if link else None

    def _listing(self, path: str, scope: str, what: str, key: str, missing_ok: bool = False) -> list[str]:
        """Every name of a paged list (catalog, tags), page after page: a list cut short
        would make a pull pass prune here what the remote still has, so it is an error."""
        names: list[str] = []
        url: str | None = path
        for _ in range(MAX_LIST_PAGES):
            body, url = self._json_page(url, scope, what, {} if missing_ok else None)
            found = body.get(key) or []
            if isinstance(found, list):
                names.extend(n for n in found if isinstance(n, str))
            if url is None:
                return names
            if not url.startswith(self.remote.upstream_url + "/"):
                raise RemoteError(f"{what}: the next page is on another host: {url[:200]}")
        raise RemoteError(f"{what}: more than {MAX_LIST_PAGES} pages")

    def catalog(self) -> list[str]:
        return self._listing(f"/v2/_catalog?{urlencode({'n': settings.REGISTRY_PAGE_MAX})}", "registry:catalog:*",
                             "catalog", "repositories")

    def tags(self, name: str, *, missing_ok: bool = False) -> list[str]:
        """The repository's tags, every page; [] for a repository the remote does not have
        when `missing_ok`, else that is a RemoteError too."""
        return self._listing(f"/v2/{name}/tags/list?{urlencode({'n': settings.REGISTRY_PAGE_MAX})}",
                             _pull_scope(name), f"tags of {name}", "tags", missing_ok)

    def referrers(self, name: str, digest: str) -> list[str]:
        """Digests of the manifests whose subject is `digest`; [] where the remote has no
        Referrers API (404)."""
        body = self._json(f"/v2/{name}/referrers/{digest}", _pull_scope(name), f"referrers of {digest}", missing={})
        found = body.get("manifests") or []
        return [d["digest"] for d in found if isinstance(d, dict) and isinstance(d.get("digest"), str)]

    # -- writing ---------------------------------------------------------------------------
    def blob_mount(self, name: str, digest: str, from_name: str) -> bool:
        """True if the remote linked the blob from `from_name`; False if it wants an upload."""
        query = urlencode({"mount": digest, "from": from_name})
        # One token for both repositories, as docker asks: a token-auth remote mounts only
        # from a repository the token may pull.
        scope = f"{_push_scope(name)} {_pull_scope(from_name)}"
        response = self._send("POST", f"/v2/{name}/blobs/uploads/?{query}", scope=scope,
                              headers={"Content-Length": "0"}, body=b"")
        response.close()
        if response.status == 201:
            return True
        if response.status == 202 and response.headers.get("Location"):
            self._cancel(self._url(response.headers["Location"]), name)  # the session it opened instead
        return False

    def _cancel(self, location: str, name: str) -> None:
        try:
            self._send("DELETE", location, scope=_push_scope(name)).close()
        except RemoteError:
            pass  # the remote purges abandoned sessions itself

    def _url(self, location: str) -> str:
        return urljoin(self.remote.upstream_url + "/", location)

    def blob_upload(self, name: str, digest: str, size: int, source: BinaryIO) -> int:
        """Send `size` bytes of `source` and commit them as `digest`: in one PUT up to
        REGISTRY_REPLICATION_CHUNK_SIZE (the remote verifies the digest before the blob
        exists there), else in PATCH chunks of that size, committed only if what was sent
        hashes to `digest`. Returns the bytes sent."""
        response = self._expect(self._send("POST", f"/v2/{name}/blobs/uploads/", scope=_push_scope(name),
                                           headers={"Content-Length": "0"}, body=b""),
                                (202,), f"upload start {name}")
        response.close()
        location = self._location(response)
        algorithm, _, _ = digest.partition(":")
        hasher = hashlib.new(algorithm)
        chunk_size = settings.REGISTRY_REPLICATION_CHUNK_SIZE
        try:
            if size <= chunk_size:
                self._commit(name, location, digest, _pieces(source, size, hasher), size)
                return size
            sent = 0
            while sent < size:
                length = min(chunk_size, size - sent)
                response = self._expect(self._send(
                    "PATCH", location, scope=_push_scope(name), body=_pieces(source, length, hasher),
                    headers={"Content-Type": "application/octet-stream", "Content-Length": str(length),
                             "Content-Range": f"{sent}-{sent + length - 1}"},
                ), (202, 204), f"upload chunk of {digest}")
                response.close()
                location = self._location(response)
                sent += length
            if f"{algorithm}:{hasher.hexdigest()}" != digest:
                raise RemoteError(f"local blob {digest} hashes to {algorithm}:{hasher.hexdigest()}; not committed")
            self._commit(name, location, digest, b"", 0)
        except RemoteError:
            self._cancel(location, name)
            raise
        return sent

    def _commit(self, name: str, location: str, digest: str, body, length: int) -> None:
        separator = "&" if "?" in location else "?"
        response = self._expect(self._send(
            "PUT", f"{location}{separator}{urlencode({'digest': digest})}", scope=_push_scope(name), body=body,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)},
        ), (201,), f"upload commit of {digest}")
        response.close()

    def _location(self, response: UpstreamResponse) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RemoteError("remote answered an upload without a Location")
        target = self._url(location)
        if not target.startswith(self.remote.upstream_url + "/"):
            # An upload session elsewhere would receive our credentials-bearing requests.
            raise RemoteError(f"remote sent the upload to another host: {target[:200]}")
        return target

    def manifest_put(self, name: str, reference: str, payload: bytes, media_type: str, digest: str) -> None:
        response = self._expect(self._send(
            "PUT", f"/v2/{name}/manifests/{reference}", scope=_push_scope(name), body=payload,
            headers={"Content-Type": media_type, "Content-Length": str(len(payload))},
        ), (201,), f"manifest {name}:{reference}")
        response.close()
        answered = (response.headers.get("Docker-Content-Digest") or digest).strip()
        if answered != digest:
            raise RemoteError(f"remote stored manifest {name}:{reference} as {answered}, not {digest}")

    def manifest_delete(self, name: str, reference: str) -> bool:
        """True if deleted, False if the remote had nothing under `reference`."""
        response = self._send("DELETE", f"/v2/{name}/manifests/{reference}", scope=f"repository:{name}:delete")
        if response.status == 400 and not is_digest_reference(reference):
            codes = _error_codes(response)
            if codes & TAG_DELETE_REFUSALS:
                raise DeleteUnsupported(f"remote cannot delete tag {name}:{reference} ({', '.join(sorted(codes))})")
        response.close()
        if response.status == 404:
            return False
        if response.status == 405:
            raise DeleteUnsupported(f"remote cannot delete {name}:{reference} (it answered 405)")
        self._expect(response, (200, 202, 204), f"delete {name}:{reference}")
        return True


def _error_codes(response: UpstreamResponse) -> set[str]:
    """The `code`s of an OCI error answer ({"errors": [{"code": …}]}); empty if it is not one."""
    try:
        errors = json.loads(response.read_limited(MAX_ERROR_RESPONSE)).get("errors")
    except (UpstreamUnavailable, ValueError, AttributeError):
        return set()
    if not isinstance(errors, list):
        return set()
    return {e["code"] for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str)}


def _pieces(source: BinaryIO, length: int, hasher) -> Iterator[bytes]:
    """`length` bytes of `source` in reads of CHUNK_SIZE, hashed as they go out."""
    left = length
    while left:
        piece = source.read(min(CHUNK_SIZE, left))
        if not piece:
            raise RemoteError(f"local blob ended {left} bytes early")
        hasher.update(piece)
        left -= len(piece)
        yield piece
