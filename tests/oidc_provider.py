"""A real OpenID Connect provider for tests: `oidc-provider-mock` (Authlib's server, over
HTTP) on a free loopback port, as a child process stopped through its Popen handle.

It accepts any client id and secret and any redirect URI. Its sign-in page asks for a
subject (`sub`); the claims each subject gets (user name, groups) are set with `set_user`.
"""
from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.support import stop_process

STARTUP_TIMEOUT = 30
CLIENT_ID = "registry"
CLIENT_SECRET = "registry-client-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Provider:
    issuer: str
    log_path: Path

    def set_user(self, sub: str, **claims) -> None:
        request = urllib.request.Request(f"{self.issuer}/users/{urllib.parse.quote(sub)}", method="PUT",
                                         data=json.dumps(claims).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204

    def approve(self, authorize_url: str, sub: str) -> str:
        """What a person does on the provider's page: sign in as `sub`; returns the URL the
        provider sends the browser back to (the registry's callback, with code and state)."""
        opener = urllib.request.build_opener(_NoRedirect)
        request = urllib.request.Request(authorize_url, data=urllib.parse.urlencode({"sub": sub}).encode())
        try:
            opener.open(request, timeout=10)
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 302, redirect.read()
            return redirect.headers["Location"]
        raise AssertionError("the provider did not redirect back")

    def settings_env(self, **extra: str) -> dict[str, str]:
        """The registry's environment for this provider."""
        return {"REGISTRY_OIDC_ISSUER": self.issuer, "REGISTRY_OIDC_CLIENT_ID": CLIENT_ID,
                "REGISTRY_OIDC_CLIENT_SECRET": CLIENT_SECRET, "REGISTRY_OIDC_PROVIDER_NAME": "Mock ID", **extra}


@contextlib.contextmanager
def running_provider(directory: Path) -> Iterator[Provider]:
    port = _free_port()
    log_path = directory / "oidc-provider.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT,
        )
    provider = Provider(f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_until_ready(process, provider)
        yield provider
    finally:
        stop_process(process)


def _wait_until_ready(process: subprocess.Popen, provider: Provider) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the OIDC provider exited:\n{provider.log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{provider.issuer}/.well-known/openid-configuration", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the OIDC provider did not start:\n{provider.log_path.read_text()}")
