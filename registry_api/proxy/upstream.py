"""HTTP to an upstream registry, as the proxy needs it: anonymous, Basic or Bearer-token
auth, redirects, time limits and size caps.

Every request is built here from the proxy's own configuration; the client's credentials
never reach this module. Bearer tokens are kept per process and reused until shortly
before they expire; a redirect to another host (Docker Hub sends blobs to a CDN) drops
the Authorization header, and nothing is ever sent from https down to http.
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

from django.conf import settings

from ..edge.http import CHUNK_SIZE
from .challenge import Challenge, preferred_challenge
from .credentials import CredentialsUnavailable, UpstreamCredentials, credentials_for

logger = logging.getLogger(__name__)

USER_AGENT = "docker-registry-manager-proxy/1"
MAX_REDIRECTS = 5
# Token and tag-list answers are small; anything larger is not what we asked for.
MAX_TOKEN_RESPONSE = 64 * 1024
MAX_TAGS_RESPONSE = 4 * 1024 * 1024
# A token is dropped this many seconds before upstream says it expires.
TOKEN_MARGIN = 10


class UpstreamUnavailable(Exception):
    """Upstream could not answer now (network, timeout, 5xx, 429, credentials refused) or
    answered nonsense: cached content may be served instead (stale)."""


class UpstreamNotFound(Exception):
    """Upstream answered that the manifest, blob or repository does not exist."""


@dataclass
class UpstreamResponse:
    status: int
    headers: http.client.HTTPMessage
    _response: http.client.HTTPResponse
    _connection: http.client.HTTPConnection

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length", "")
        return int(value) if value.isascii() and value.isdigit() else None

    def read_limited(self, limit: int) -> bytes:
        """The whole body, refused (UpstreamUnavailable) beyond `limit` bytes."""
        try:
            length = self.content_length
            if length is not None and length > limit:
                raise UpstreamUnavailable(f"upstream answer of {length} bytes is over the {limit}-byte limit")
            body = self._response.read(limit + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamUnavailable(f"upstream connection broke: {exc}") from None
        finally:
            self.close()
        if len(body) > limit:
            raise UpstreamUnavailable(f"upstream answer is over the {limit}-byte limit")
        return body

    def iter_chunks(self) -> Iterator[bytes]:
        """The body in chunks of at most CHUNK_SIZE; a broken stream raises UpstreamUnavailable."""
        try:
            while chunk := self._response.read1(CHUNK_SIZE):
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamUnavailable(f"upstream connection broke: {exc}") from None
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()
        self._connection.close()


def status_error(response: UpstreamResponse, what: str) -> Exception:
    """The exception for a non-2xx answer; the body is not read (it may be anything)."""
    response.close()
    if response.status == 404:
        return UpstreamNotFound(f"{what}: not found upstream")
    return UpstreamUnavailable(f"{what}: upstream answered {response.status}")


# (proxy pk, upstream url, user, scope) -> (token, monotonic expiry); and per proxy the
# challenge last seen, so the next request can get its token without a 401 first.
_tokens: dict[tuple, tuple[str, float]] = {}
_challenges: dict[tuple, Challenge] = {}
_tokens_lock = threading.Lock()


def token_cache_clear() -> None:
    with _tokens_lock:
        _tokens.clear()
        _challenges.clear()


class UpstreamClient:
    """Requests to one proxy's upstream registry, or to a replication remote: anything with
    `pk`, `upstream_url`, `username`, `password_encrypted` and `password_env`."""

    def __init__(self, proxy, *, timeout: float | None = None) -> None:
        self.proxy = proxy
        self.base = urlsplit(proxy.upstream_url)
        self.timeout = settings.REGISTRY_PROXY_TIMEOUT if timeout is None else timeout
        try:
            self.credentials: UpstreamCredentials | None = credentials_for(
                username=proxy.username, password_encrypted=proxy.password_encrypted, password_env=proxy.password_env,
            )
        except CredentialsUnavailable as exc:
            raise UpstreamUnavailable(str(exc)) from None

    # -- public verbs ----------------------------------------------------------------------
    def send(self, method: str, path: str, *, scope: str, headers: dict[str, str] | None = None,
             body: bytes | Iterable[bytes] | None = None) -> UpstreamResponse:
        """One request to `path` (or an absolute URL on the upstream, as an upload's
        Location) authorized for `scope`, redirects followed. A streamed `body` cannot be
        sent twice: it needs a Content-Length and an authorization known from an earlier
        request (a 401 to it is final)."""
        url = path if path.startswith(("http://", "https://")) else self.proxy.upstream_url + path
        headers = dict(headers or {})
        authorization = self._known_authorization(scope)
        response = self._request(method, url, headers, authorization, body)
        if response.status != 401:
            return response
        challenge = preferred_challenge(response.headers.get_all("WWW-Authenticate") or [])
        response.close()
        if challenge is None:
            raise UpstreamUnavailable("upstream asked for credentials without a usable challenge")
        if body is not None and not isinstance(body, bytes):
            raise UpstreamUnavailable(f"upstream refused the credentials of {scope} mid-upload")
        authorization = self._authorize(challenge, scope)
        response = self._request(method, url, headers, authorization, body)
        if response.status == 401:
            response.close()
            self._forget(scope)
            who = f"user {self.credentials.username}" if self.credentials else "anonymous pulls"
            raise UpstreamUnavailable(f"upstream refused {who} for {scope}")
        return response

    def tags(self, name: str) -> list[str]:
        response = self.send("GET", f"/v2/{name}/tags/list?{urlencode({'n': settings.REGISTRY_PAGE_MAX})}",
                             scope=f"repository:{name}:pull")
        if response.status != 200:
            raise status_error(response, f"tags of {name}")
        try:
            tags = json.loads(response.read_limited(MAX_TAGS_RESPONSE)).get("tags") or []
        except (ValueError, AttributeError):
            raise UpstreamUnavailable("upstream tag list is not JSON") from None
        return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []

    # -- auth ------------------------------------------------------------------------------
    def _key(self, scope: str) -> tuple:
        return (type(self.proxy).__name__, self.proxy.pk, self.proxy.upstream_url, self.credentials.username if self.credentials else "", scope)

    def _known_authorization(self, scope: str) -> str | None:
        """A token still valid for `scope`, or one fetched from the realm seen last time, or
        Basic credentials when upstream asked for Basic before."""
        key = self._key(scope)
        with _tokens_lock:
            cached = _tokens.get(key)
            challenge = _challenges.get(key[:4])
        if cached and cached[1] > time.monotonic():
            return f"Bearer {cached[0]}"
        if challenge is not None:
            try:
                return self._authorize(challenge, scope)
            except UpstreamUnavailable:
                return None  # start over from the upstream's own challenge
        return None

    def _forget(self, scope: str) -> None:
        with _tokens_lock:
            _tokens.pop(self._key(scope), None)
            _challenges.pop(self._key(scope)[:4], None)

    def _basic(self) -> str:
        raw = f"{self.credentials.username}:{self.credentials.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _authorize(self, challenge: Challenge, scope: str) -> str:
        with _tokens_lock:
            _challenges[self._key(scope)[:4]] = challenge
        if challenge.scheme == "basic":
            if self.credentials is None:
                raise UpstreamUnavailable("upstream wants Basic credentials and none are configured")
            self._check_transport(self.proxy.upstream_url)
            return self._basic()
        token, expires_in = self._fetch_token(challenge, scope)
        with _tokens_lock:
            _tokens[self._key(scope)] = (token, time.monotonic() + max(expires_in - TOKEN_MARGIN, 1))
        return f"Bearer {token}"

    def _check_transport(self, url: str) -> None:
        """Credentials only over https, unless the upstream itself is plain http."""
        if self.credentials and urlsplit(url).scheme != "https" and self.base.scheme == "https":
            raise UpstreamUnavailable(f"refusing to send upstream credentials over plain http to {urlsplit(url).netloc}")

    def _fetch_token(self, challenge: Challenge, scope: str) -> tuple[str, int]:
        realm = challenge.realm
        if urlsplit(realm).scheme not in ("http", "https"):
            raise UpstreamUnavailable("upstream token realm is not an http(s) URL")
        # Several scopes (space-separated, as a token's own "scope" claim lists them) are
        # asked for in one token, one `scope` parameter each, as docker does for a mount.
        query = [("scope", s) for s in scope.split()]
        if challenge.params.get("service"):
            query.append(("service", challenge.params["service"]))
        authorization = None
        if self.credentials is not None:
            self._check_transport(realm)
            authorization = self._basic()
        separator = "&" if "?" in realm else "?"
        response = self._request("GET", f"{realm}{separator}{urlencode(query)}", {}, authorization)
        if response.status != 200:
            response.close()
            if response.status in (401, 403) and self.credentials is not None:
                raise UpstreamUnavailable(f"upstream token endpoint refused user {self.credentials.username} "
                                          f"({response.status}): check the credentials")
            raise UpstreamUnavailable(f"upstream token endpoint answered {response.status}")
        try:
            body = json.loads(response.read_limited(MAX_TOKEN_RESPONSE))
            token = body.get("token") or body.get("access_token")
            expires_in = body.get("expires_in", 60)
        except (ValueError, AttributeError):
            raise UpstreamUnavailable("upstream token endpoint did not answer JSON") from None
        if not isinstance(token, str) or not token:
            raise UpstreamUnavailable("upstream token endpoint answered no token")
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            expires_in = 60  # the token spec's default
        return token, expires_in

    # -- transport -------------------------------------------------------------------------
    def _request(self, method: str, url: str, headers: dict[str, str], authorization: str | None,
                 body: bytes | Iterable[bytes] | None = None) -> UpstreamResponse:
        origin = urlsplit(url)
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UpstreamUnavailable(f"upstream sent us to an unusable URL: {url[:200]}")
            sent = {**headers, "User-Agent": USER_AGENT}
            if authorization and (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc):
                sent["Authorization"] = authorization
            response = self._once(method, parts, sent, body)
            location = response.headers.get("Location")
            if response.status not in (301, 302, 303, 307, 308) or not location or method in ("POST", "PUT", "PATCH"):
                return response  # an upload's answer names its next URL in Location
            response.close()
            target = urljoin(url, location)
            if parts.scheme == "https" and urlsplit(target).scheme != "https":
                raise UpstreamUnavailable("upstream redirected from https to plain http; not followed")
            url = target
            if response.status == 303:
                method = "GET"
        raise UpstreamUnavailable(f"more than {MAX_REDIRECTS} redirects from upstream")

    def _once(self, method: str, parts, headers: dict[str, str], body=None) -> UpstreamResponse:
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise UpstreamUnavailable(f"{parts.netloc} unreachable: {exc}") from None
        return UpstreamResponse(response.status, response.msg, response, connection)
