"""How the Azure backend reaches its container: its settings, their system-check problems,
the SDK's client, and reading the service's errors. storage_backends/azure.py is the
backend itself."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ExponentialRetry

MiB = 1024 * 1024
# A block smaller than this makes a blob of the 50,000 blocks Azure allows too small (48 GiB);
# Put Block takes at most 4,000 MiB.
MIN_BLOCK_SIZE = MiB
MAX_BLOCK_SIZE = 4000 * MiB
# Lifetime of a SAS URL handed to a client: long enough for a slow client to start its download.
REDIRECT_EXPIRES = 20 * 60
# Bytes one ranged GET of a read brings into memory (the SDK's default is 32 MiB for the first).
READ_CHUNK = 4 * MiB
# Azure's container name grammar: 3-63 of lowercase letters, digits and single hyphens.
CONTAINER_RE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")


@dataclass(frozen=True)
class AzureConfig:
    container: str
    account_url: str = ""
    connection_string: str = ""
    account_key: str = ""
    sas_token: str = ""
    prefix: str = ""
    redirect: bool = False
    block_size: int = 8 * MiB
    buffer_dir: Path | None = None  # local disk for the block buffers; None = the system's

    @classmethod
    def from_settings(cls, settings) -> "AzureConfig":
        return cls(
            container=settings.REGISTRY_AZURE_CONTAINER,
            account_url=settings.REGISTRY_AZURE_ACCOUNT_URL,
            connection_string=settings.REGISTRY_AZURE_CONNECTION_STRING,
            account_key=settings.REGISTRY_AZURE_ACCOUNT_KEY,
            sas_token=settings.REGISTRY_AZURE_SAS_TOKEN,
            prefix=settings.REGISTRY_AZURE_PREFIX,
            redirect=settings.REGISTRY_AZURE_REDIRECT,
            block_size=settings.REGISTRY_AZURE_BLOCK_SIZE,
            buffer_dir=Path(settings.DATA_DIR) / "tmp",
        )

    def problems(self) -> list[str]:
        """What makes this configuration unusable, for the system check (never a secret)."""
        found = []
        if not self.container:
            found.append("REGISTRY_AZURE_CONTAINER is not set")
        elif not CONTAINER_RE.fullmatch(self.container):
            found.append("REGISTRY_AZURE_CONTAINER must be 3-63 lowercase letters, digits and single hyphens")
        if bool(self.account_url) == bool(self.connection_string):
            found.append("set one of REGISTRY_AZURE_ACCOUNT_URL and REGISTRY_AZURE_CONNECTION_STRING")
        if self.account_url and not self.account_url.startswith(("http://", "https://")):
            found.append("REGISTRY_AZURE_ACCOUNT_URL must start with http:// or https://")
        if self.connection_string and (self.account_key or self.sas_token):
            found.append("REGISTRY_AZURE_CONNECTION_STRING carries its own credentials: unset "
                         "REGISTRY_AZURE_ACCOUNT_KEY and REGISTRY_AZURE_SAS_TOKEN")
        if self.account_key and self.sas_token:
            found.append("set REGISTRY_AZURE_ACCOUNT_KEY or REGISTRY_AZURE_SAS_TOKEN, not both")
        if self.connection_string and not self._connection_string_readable():
            found.append("REGISTRY_AZURE_CONNECTION_STRING is not a storage connection string")
        if self.prefix.startswith("/") or (self.prefix and not self.prefix.endswith("/")):
            found.append("REGISTRY_AZURE_PREFIX must not start with / and must end with /")
        if not MIN_BLOCK_SIZE <= self.block_size <= MAX_BLOCK_SIZE:
            found.append(f"REGISTRY_AZURE_BLOCK_SIZE must be between {MIN_BLOCK_SIZE} and {MAX_BLOCK_SIZE} bytes")
        if self.redirect and self.sas_token:
            found.append("REGISTRY_AZURE_REDIRECT needs an account key or an Azure AD identity to sign "
                         "URLs, not REGISTRY_AZURE_SAS_TOKEN (it would hand clients the token itself)")
        return found

    def _connection_string_readable(self) -> bool:
        """Whether the SDK can read the connection string (no request is made)."""
        try:
            BlobServiceClient.from_connection_string(self.connection_string)
        except (ValueError, AttributeError, IndexError):
            return False
        return True

    def where(self) -> str:
        """The account's URL for messages: no key, no SAS token (a connection string may hold both)."""
        if self.account_url:
            return self.account_url.split("?", 1)[0]
        try:
            return BlobServiceClient.from_connection_string(self.connection_string).url.split("?", 1)[0]
        except (ValueError, AttributeError, IndexError):
            return "(unreadable connection string)"


def _retry_policy() -> ExponentialRetry:
    # About 8 s of retries (0.5 s + 2**n s, n = 0..2, with jitter) before a request fails:
    # long enough to ride over a throttled or restarting service, short enough that a push
    # against an unreachable account fails with a 500 instead of hanging for minutes (the
    # SDK's default waits 15 s, 18 s, 24 s, …).
    return ExponentialRetry(initial_backoff=0.5, increment_base=2, retry_total=3)


def service_client(config: AzureConfig) -> BlobServiceClient:
    options = dict(
        retry_policy=_retry_policy(),
        connection_timeout=10,
        read_timeout=120,
        # Reads stream in ranged GETs of this size; the SDK would otherwise fetch the first
        # 32 MiB of every blob into memory before handing out a byte.
        max_single_get_size=READ_CHUNK,
        max_chunk_get_size=READ_CHUNK,
    )
    if config.connection_string:
        return BlobServiceClient.from_connection_string(config.connection_string, **options)
    if config.account_key:
        credential = {"account_name": account_name(config.account_url), "account_key": config.account_key}
        return BlobServiceClient(config.account_url, credential=credential, **options)
    if config.sas_token:
        return BlobServiceClient(config.account_url, credential=config.sas_token.lstrip("?"), **options)
    # Neither: managed identity, workload identity, environment, Azure CLI login, …
    from azure.identity import DefaultAzureCredential

    return BlobServiceClient(config.account_url, credential=DefaultAzureCredential(), **options)


def account_name(account_url: str) -> str:
    """`myaccount` of https://myaccount.blob.core.windows.net, or of an emulator's path-style
    http://127.0.0.1:10000/myaccount (Azurite, Azure Stack)."""
    parts = urlsplit(account_url)
    host = parts.hostname or ""
    if re.fullmatch(r"[\d.]+|\[?[0-9a-f:]+\]?|localhost", host) or "." not in host:
        return parts.path.strip("/").split("/", 1)[0]
    return host.split(".", 1)[0]


def is_missing(exc: Exception) -> bool:
    return isinstance(exc, ResourceNotFoundError) or getattr(exc, "status_code", None) == 404


def status_of(exc: HttpResponseError) -> int:
    return getattr(exc, "status_code", None) or 0
