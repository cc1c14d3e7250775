"""How the S3 backend reaches its bucket: its settings, their system-check problems, the
boto3 client, and reading S3's errors. storage_backends/s3.py is the backend itself."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MiB = 1024 * 1024
# S3's smallest part (all but the last); 10,000 parts of the default 8 MiB allow 78 GiB.
MIN_PART_SIZE = 5 * MiB
# Largest single CopyObject; above it the copy is multipart (UploadPartCopy).
COPY_THRESHOLD = 5 * 1024 * MiB
# Lifetime of a presigned GET: long enough for a slow client to start its download.
REDIRECT_EXPIRES = 20 * 60


@dataclass(frozen=True)
class S3Config:
    bucket: str
    endpoint_url: str = ""
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = ""
    prefix: str = ""
    redirect: bool = False
    part_size: int = 8 * MiB
    buffer_dir: Path | None = None  # local disk for the part buffers; None = the system's
    copy_threshold: int = COPY_THRESHOLD

    @classmethod
    def from_settings(cls, settings) -> "S3Config":
        return cls(
            bucket=settings.REGISTRY_S3_BUCKET,
            endpoint_url=settings.REGISTRY_S3_ENDPOINT_URL,
            region=settings.REGISTRY_S3_REGION,
            access_key_id=settings.REGISTRY_S3_ACCESS_KEY_ID,
            secret_access_key=settings.REGISTRY_S3_SECRET_ACCESS_KEY,
            prefix=settings.REGISTRY_S3_PREFIX,
            redirect=settings.REGISTRY_S3_REDIRECT,
            part_size=settings.REGISTRY_S3_PART_SIZE,
            buffer_dir=Path(settings.DATA_DIR) / "tmp",
        )

    def problems(self) -> list[str]:
        """What makes this configuration unusable, for the system check (no secrets)."""
        found = []
        if not self.bucket:
            found.append("REGISTRY_S3_BUCKET is not set")
        if self.part_size < MIN_PART_SIZE:
            found.append(f"REGISTRY_S3_PART_SIZE must be at least {MIN_PART_SIZE} (S3's smallest part)")
        if bool(self.access_key_id) != bool(self.secret_access_key):
            found.append("set both REGISTRY_S3_ACCESS_KEY_ID and REGISTRY_S3_SECRET_ACCESS_KEY, or neither")
        if self.endpoint_url and not self.endpoint_url.startswith(("http://", "https://")):
            found.append("REGISTRY_S3_ENDPOINT_URL must start with http:// or https://")
        if self.prefix.startswith("/") or (self.prefix and not self.prefix.endswith("/")):
            found.append("REGISTRY_S3_PREFIX must not start with / and must end with /")
        return found


_session_lock = threading.Lock()


@lru_cache(maxsize=1)
def _boto_session() -> boto3.session.Session:
    """One boto3 session per process: it caches the service model, which is slow to load."""
    return boto3.session.Session()


def _client(config: S3Config):
    options = Config(
        signature_version="s3v4",
        # S3-compatible servers (MinIO, Ceph, moto) are usually reached by path, AWS by host.
        s3={"addressing_style": "path" if config.endpoint_url else "auto"},
        retries={"mode": "standard", "max_attempts": 5},
        # Checksums only where S3 requires them: several S3-compatible servers refuse the
        # CRC32 headers newer botocore sends by default. We verify SHA256 ourselves.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=32,
    )
    credentials = {}
    if config.access_key_id:  # else boto3's own chain: environment, instance role, …
        credentials = {"aws_access_key_id": config.access_key_id, "aws_secret_access_key": config.secret_access_key}
    with _session_lock:  # sessions are not thread-safe; the clients they make are
        return _boto_session().client(
            "s3", region_name=config.region, endpoint_url=config.endpoint_url or None, config=options, **credentials
        )


def _status(exc: ClientError) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


def _missing(exc: ClientError) -> bool:
    return _status(exc) == 404 or exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchUpload", "NotFound")
