"""The files in deploy/ as an operator installs them: systemd units verify, nginx accepts the
site, and skopeo works through nginx (TLS) -> gunicorn with nginx sending the blobs itself."""
from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import builders

from .conftest import _running_registry
from .support import blob_bytes, layout_blob, skopeo

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy file no longer contains {old!r}: update this test with it"
    return text.replace(old, new)


@pytest.mark.parametrize("unit", sorted(p.name for p in DEPLOY.iterdir() if p.suffix in (".service", ".timer")))
def test_systemd_units_verify(tmp_path, unit):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    for source in DEPLOY.iterdir():
        if source.suffix in (".service", ".timer"):
            # The virtualenv running these tests, which a worktree may keep elsewhere.
            text = source.read_text().replace("/opt/docker-registry-manager/.venv", str(Path(sys.executable).parents[1]))
            text = text.replace("/opt/docker-registry-manager", str(REPO_ROOT))
            text = text.replace("/etc/docker-registry-manager/registry.env", str(DEPLOY / "registry.env"))
            (tmp_path / source.name).write_text(text)
    result = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if unit in line or "Unknown" in line]
    assert result.returncode == 0 and not problems, result.stderr


def _certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def _site(directory: Path, port: int, upstream: str, data_dir: Path) -> Path:
    """deploy/nginx.conf with this machine's ports, certificate and data directory."""
    cert, key = _certificate(directory)
    text = (DEPLOY / "nginx.conf").read_text()
    redirect_server = text[text.index("server {\n    listen 80;"):text.index("server {\n    listen 443 ssl;")]
    text = _replace(text, redirect_server, "")
    text = _replace(text, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    text = _replace(text, "server 127.0.0.1:5000;", f"server {upstream};")
    text = _replace(text, "/etc/ssl/certs/registry.example.com.pem", str(cert))
    text = _replace(text, "/etc/ssl/private/registry.example.com.key", str(key))
    text = _replace(text, "alias /var/lib/docker-registry-manager/blobs/;", f"alias {data_dir}/blobs/;")
    site = directory / "site.conf"
    site.write_text(text)
    main = directory / "nginx.conf"
    main.write_text(
        f"user root;\nworker_processes 1;\ndaemon off;\npid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log {directory}/access.log;\n  client_body_temp_path {directory}/body;\n"
        f"  proxy_temp_path {directory}/proxy;\n  include {site};\n}}\n"
    )
    return main


def _nginx() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if path is None:
        pytest.skip("nginx is not installed (.ci/run installs it from Debian)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nginx_accepts_the_site(tmp_path):
    main = _site(tmp_path, _free_port(), "127.0.0.1:5000", tmp_path / "data")
    result = subprocess.run([_nginx(), "-t", "-c", str(main)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_skopeo_through_nginx_with_blobs_sent_by_nginx(tmp_path):
    nginx = _nginx()
    image = builders.image("through-nginx", layer_count=2)
    layout = builders.image_layout(tmp_path / "src", "v1", image)
    with _running_registry(tmp_path / "registry", auth=True, REGISTRY_BEHIND_PROXY="true",
                           REGISTRY_X_ACCEL_REDIRECT="/_blobs/") as registry:
        port = _free_port()
        main = _site(tmp_path, port, registry.host, registry.data_dir)
        proc = subprocess.Popen([nginx, "-c", str(main)], stderr=subprocess.DEVNULL)
        try:
            _wait_for_port(port)
            host, creds = f"127.0.0.1:{port}", ":".join(registry.credentials)
            skopeo("copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", creds,
                   f"oci:{layout}:v1", f"docker://{host}/deploy/app:v1")
            out = tmp_path / "out"
            skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds,
                   f"docker://{host}/deploy/app:v1", f"oci:{out}:v1")
            for digest, data in blob_bytes([*image.blobs, image.manifest]).items():
                assert layout_blob(out, digest) == data
            _check_blob_served_by_nginx(host, creds, image.layers[0])
            log = registry.log.read()
            assert log.count("via=web-server") >= len(image.blobs)
            # Behind the proxy the challenge names the https realm clients reached.
            assert _challenge_realm(host) == f"https://{host}/auth/token"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("nginx did not start listening")


def _insecure_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _challenge_realm(host: str) -> str:
    try:
        urllib.request.urlopen(f"https://{host}/v2/", context=_insecure_context())
    except urllib.error.HTTPError as exc:
        return exc.headers["WWW-Authenticate"].split('realm="', 1)[1].split('"', 1)[0]
    raise AssertionError("anonymous /v2/ was not challenged")


def _check_blob_served_by_nginx(host: str, creds: str, blob: builders.Blob) -> None:
    auth = "Basic " + base64.b64encode(creds.encode()).decode()
    url = f"https://{host}/v2/deploy/app/blobs/{blob.digest}"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": auth}),
                                context=_insecure_context()) as response:
        assert response.read() == blob.data
        assert response.headers["Docker-Content-Digest"] == blob.digest
        assert response.headers["Content-Length"] == str(len(blob.data))
        assert response.headers["Server"].startswith("nginx")
    ranged = urllib.request.Request(url, headers={"Authorization": auth, "Range": "bytes=5-14"})
    with urllib.request.urlopen(ranged, context=_insecure_context()) as response:
        assert response.status == 206 and response.read() == blob.data[5:15]
        assert response.headers["Content-Range"] == f"bytes 5-14/{len(blob.data)}"


def test_compose_site_is_the_nginx_site_with_compose_names():
    """deploy/nginx-compose.conf must not drift from deploy/nginx.conf (only names differ)."""
    site = (DEPLOY / "nginx.conf").read_text().split("\n", 3)[3]
    compose = (DEPLOY / "nginx-compose.conf").read_text().split("\n", 2)[2]
    expected = site.replace("server 127.0.0.1:5000;", "server registry:5000;")
    expected = expected.replace("/etc/ssl/certs/registry.example.com.pem", "/etc/ssl/registry/registry.example.com.pem")
    expected = expected.replace("/etc/ssl/private/registry.example.com.key", "/etc/ssl/registry/registry.example.com.key")
    assert compose == expected


def test_container_files_name_the_same_entry_points():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "deploy/gunicorn.conf.py registry_project.wsgi:application" in dockerfile
    assert "manage.py migrate --noinput" in dockerfile
    compose = (DEPLOY / "compose.yaml").read_text()
    assert "./nginx-compose.conf" in compose and "REGISTRY_X_ACCEL_REDIRECT: /_blobs/" in compose
