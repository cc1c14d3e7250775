"""A real S3-compatible HTTP server for tests: moto's server mode on a free loopback port.

Started as a child process (`python -m moto.server`) and stopped through its Popen handle;
each test makes its own bucket, so tests never see each other's objects.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

STARTUP_TIMEOUT = 30
# moto accepts any credentials; these only have to be the same everywhere.
ACCESS_KEY_ID = "test-access-key"
SECRET_ACCESS_KEY = "test-secret-key"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen
    log_path: Path
    _client: object = field(default=None, repr=False)

    def client(self):
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self):
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def settings_env(self, bucket: str, **extra: str) -> dict[str, str]:
        """The registry's environment variables for this server and bucket."""
        return {
            "REGISTRY_STORAGE_BACKEND": "storage_backends.s3.S3Storage",
            "REGISTRY_S3_BUCKET": bucket,
            "REGISTRY_S3_ENDPOINT_URL": self.endpoint_url,
            "REGISTRY_S3_REGION": REGION,
            "REGISTRY_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "REGISTRY_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            **extra,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_s3_server(directory: Path) -> S3Server:
    port = _free_port()
    log_path = directory / "moto.log"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = S3Server(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=2):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"moto server did not answer within {STARTUP_TIMEOUT}s:\n{log_path.read_text()}")
