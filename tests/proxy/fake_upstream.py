"""A small upstream registry on a loopback port, for the proxy's unit tests: the outside
system the proxy talks to, so it is the one thing not run through Django here.

It serves manifests, blobs and tag lists from memory, with the auth a real registry may
ask for (none, Basic, or a Bearer challenge with its own token endpoint), and records every
request so tests can count what reached upstream. Knobs: `down` (refuse with 503),
`corrupt` (serve other bytes than the digest), `chunk_delay` (a slow blob), `cdn` (blobs
redirected to another server), `token_ttl`.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MANIFEST_RE = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
BLOB_RE = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
TAGS_RE = re.compile(r"^/v2/(?P<name>.+)/tags/list$")


@dataclass
class Seen:
    method: str
    path: str
    authorization: str


@dataclass
class FakeUpstream:
    auth: str = "anonymous"  # "anonymous", "basic" or "bearer"
    credentials: tuple[str, str] | None = None  # required for basic; for bearer, None = anonymous tokens
    token_ttl: int = 300
    down: bool = False
    corrupt: bool = False
    chunk_delay: float = 0.0
    cdn: "FakeUpstream | None" = None
    manifests: dict = field(default_factory=dict)  # (name, digest) -> (bytes, media type)
    tags: dict = field(default_factory=dict)  # (name, tag) -> digest
    blobs: dict = field(default_factory=dict)  # digest -> bytes
    seen: list[Seen] = field(default_factory=list)
    tokens: dict = field(default_factory=dict)  # token -> expiry (time.time())

    # -- content --------------------------------------------------------------------------
    def add_image(self, name: str, tag: str | None, image) -> str:
        """An image from tests/builders.py, its blobs and manifest; returns the digest."""
        for blob in image.blobs:
            self.blobs[blob.digest] = blob.data
        return self.add_manifest(name, tag, image.manifest)

    def add_manifest(self, name: str, tag: str | None, manifest) -> str:
        self.manifests[(name, manifest.digest)] = (manifest.data, manifest.media_type)
        if tag:
            self.tags[(name, tag)] = manifest.digest
        return manifest.digest

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for s in self.seen if s.method == method and re.search(pattern, s.path))

    # -- server ---------------------------------------------------------------------------
    def start(self) -> "FakeUpstream":
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                upstream._handle(self)

            do_HEAD = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- requests -------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        self.seen.append(Seen(request.command, request.path, request.headers.get("Authorization", "")))
        if self.down:
            return self._send(request, 503, b'{"errors":[{"code":"UNAVAILABLE"}]}')
        if parts.path == "/token":
            return self._token(request, parse_qs(parts.query))
        if parts.path.startswith("/cdn/"):
            return self._blob(request, parts.path[len("/cdn/"):])
        if not self._authorized(request):
            return
        if match := MANIFEST_RE.match(parts.path):
            return self._manifest(request, match["name"], match["ref"])
        if match := BLOB_RE.match(parts.path):
            if self.cdn is not None:
                return self._send(request, 307, b"", {"Location": f"{self.cdn.url}/cdn/{match['digest']}"})
            return self._blob(request, match["digest"])
        if match := TAGS_RE.match(parts.path):
            names = sorted(t for (n, t) in self.tags if n == match["name"])
            if not names:
                return self._send(request, 404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
            return self._send(request, 200, json.dumps({"name": match["name"], "tags": names}).encode())
        return self._send(request, 200 if parts.path == "/v2/" else 404, b"{}")

    def _basic_ok(self, header: str) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return header == f"Basic {expected}"

    def _authorized(self, request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.auth == "basic" and not self._basic_ok(header):
            self._send(request, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": 'Basic realm="fake"'})
            return False
        if self.auth == "bearer":
            token = header.removeprefix("Bearer ")
            if self.tokens.get(token, 0) <= time.time():
                challenge = f'Bearer realm="{self.url}/token",service="fake-upstream"'
                self._send(request, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
                return False
        return True

    def _token(self, request, query: dict) -> None:
        if not self._basic_ok(request.headers.get("Authorization", "")):
            return self._send(request, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
        token = secrets.token_hex(8)
        self.tokens[token] = time.time() + self.token_ttl
        body = {"token": token, "expires_in": self.token_ttl, "scope": query.get("scope", [""])[0]}
        self._send(request, 200, json.dumps(body).encode())

    def _manifest(self, request, name: str, reference: str) -> None:
        digest = self.tags.get((name, reference), reference)
        found = self.manifests.get((name, digest))
        if found is None:
            return self._send(request, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        payload, media_type = found
        if self.corrupt:
            payload = payload + b" "
        self._send(request, 200, payload, {"Content-Type": media_type, "Docker-Content-Digest": digest})

    def _blob(self, request, digest: str) -> None:
        data = self.blobs.get(digest)
        if data is None:
            return self._send(request, 404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
        if self.corrupt:
            data = bytes(reversed(data))
        request.send_response(200)
        request.send_header("Content-Length", str(len(data)))
        request.send_header("Docker-Content-Digest", digest)
        request.end_headers()
        if request.command == "HEAD":
            return
        for start in range(0, len(data), 64 * 1024):
            request.wfile.write(data[start:start + 64 * 1024])
            request.wfile.flush()
            if self.chunk_delay:
                time.sleep(self.chunk_delay)

    def _send(self, request, status: int, body: bytes, headers: dict | None = None) -> None:
        request.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)
