"""A real Azure Blob Storage server for tests: Microsoft's emulator Azurite (npm `azurite`,
installed under tests/.azurite by `make azurite`), on a free loopback port.

Started as a child process over a temporary directory and stopped through its Popen handle;
each test makes its own container, so tests never see each other's blobs. `restart` starts
it again on the same port over the same directory (its blobs survive), for fault tests.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
AZURITE = REPO_ROOT / "tests" / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
STARTUP_TIMEOUT = 30
# Azurite's development account: published by Microsoft, the same for every emulator.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
LISTENING_RE = re.compile(r"listens on http://127\.0\.0\.1:(\d+)")


def missing_reason() -> str | None:
    """Why Azurite cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (.ci/run installs Debian's nodejs and npm)"
    if not AZURITE.exists():
        return f"{AZURITE.relative_to(REPO_ROOT)} is missing: run `make azurite` (npm install)"
    return None


@dataclass
class Azurite:
    location: Path
    log_path: Path
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={self.account_url};")

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def new_container(self) -> str:
        name = f"test-{uuid.uuid4().hex[:20]}"
        self.service().create_container(name)
        return name

    def blob_names(self, container: str, prefix: str = "") -> list[str]:
        client = self.service().get_container_client(container)
        return sorted(b.name for b in client.list_blobs(name_starts_with=prefix))

    def settings_env(self, container: str, **extra: str) -> dict[str, str]:
        """The registry's environment variables for this server and container."""
        return {
            "REGISTRY_STORAGE_BACKEND": "storage_backends.azure.AzureStorage",
            "REGISTRY_AZURE_ACCOUNT_URL": self.account_url,
            "REGISTRY_AZURE_ACCOUNT_KEY": ACCOUNT_KEY,
            "REGISTRY_AZURE_CONTAINER": container,
            **extra,
        }

    def start(self) -> None:
        """On `port` (0 = any free one, then remembered), logging to `log_path`."""
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                 "--location", str(self.location), "--skipApiVersionCheck", "--disableTelemetry", "--silent"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"azurite exited with {self.process.returncode}:\n{self._log(start)}")
            found = LISTENING_RE.search(self._log(start))
            if found:
                self.port = int(found.group(1))
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"azurite did not listen within {STARTUP_TIMEOUT}s:\n{self._log(start)}")

    def _log(self, start: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


def start_azurite(directory: Path) -> Azurite:
    location = directory / "data"
    location.mkdir(parents=True, exist_ok=True)
    server = Azurite(location, directory / "azurite.log")
    server.start()
    return server
