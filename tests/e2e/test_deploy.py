"""The files in deploy/ as an operator installs them: systemd units verify, nginx accepts the
site, and skopeo works through nginx (TLS) -> gunicorn with nginx sending the blobs itself."""
from __future__ import annotations

import base64
import contextlib
import grp
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import builders
from tests.builders import sha256

from .conftest import _running_registry
from .support import blob_bytes, layout_blob, send, skopeo, unavailable

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
MIB = 1024 * 1024
# The install's `registry` group has a stand-in: nogroup. The service keeps uid root here
# (the interpreter may live under /root, 0700), but runs with that group only and the
# unit's umask, so its files carry exactly the group and modes they get when installed.
SERVICE_GROUP = "nogroup"
WEB_USER = "www-data"  # Debian's nginx user


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy file no longer contains {old!r}: update this test with it"
    return text.replace(old, new)


@pytest.mark.parametrize("unit", sorted(p.name for p in DEPLOY.iterdir() if p.suffix in (".service", ".timer")))
def test_systemd_units_verify(tmp_path, unit):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        unavailable("systemd-analyze is not installed (.ci/run installs systemd from Debian)")
    for source in DEPLOY.iterdir():
        if source.suffix in (".service", ".timer"):
            # The virtualenv running the tests stands for the installed .venv (a checkout
            # such as a git worktree need not have one of its own).
            text = source.read_text().replace("/opt/docker-registry-manager/.venv", sys.prefix)
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
    # Workers run as Debian's www-data with the service's group, as after the install
    # guide's `usermod -aG registry www-data`. The temporary paths are in pytest's 0700
    # directory, out of the workers' reach: a request body nginx tried to buffer would fail.
    main.write_text(
        f"user {WEB_USER} {SERVICE_GROUP};\nworker_processes 1;\ndaemon off;\npid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log;\nevents {{}}\n"
        f"http {{\n  log_format proof '$http_x_request_id $status $body_bytes_sent $upstream_response_length';\n"
        f"  access_log {directory}/access.log proof;\n  client_body_temp_path {directory}/body;\n"
        f"  proxy_temp_path {directory}/proxy;\n  include {site};\n}}\n"
    )
    return main


def _nginx() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if path is None:
        unavailable("nginx is not installed (.ci/run installs it from Debian)")
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


@contextlib.contextmanager
def _installed_data_dir():
    """A data directory as the install guide makes it (`install -d -o registry -g registry
    -m 0750`, with the stand-in group), outside pytest's temporary directory (0700, which
    nginx's workers could not enter)."""
    if os.geteuid() != 0:
        unavailable("running the service and nginx as other users needs root")
    top = Path(tempfile.mkdtemp(prefix="drm-deploy-", dir="/var/tmp"))
    try:
        os.chmod(top, 0o711)
        root = top / "registry"
        root.mkdir(mode=0o711)
        data = root / "data"
        data.mkdir()
        os.chown(data, 0, grp.getgrnam(SERVICE_GROUP).gr_gid)
        os.chmod(data, 0o750)
        yield root
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _unit_umask() -> int:
    (line,) = [line for line in (DEPLOY / "registry.service").read_text().splitlines() if line.startswith("UMask=")]
    return int(line.split("=", 1)[1], 8)


def test_skopeo_through_nginx_with_blobs_sent_by_nginx(tmp_path):
    """The install as documented: the service as its own user with the unit's umask, nginx's
    workers unprivileged; an 8 MiB layer and a docker-style chunked PATCH go through nginx
    unbuffered, nginx sends the blobs itself and may read nothing else."""
    nginx = _nginx()
    image = builders.image("through-nginx", layer_count=2, first_layer_files={"big.bin": os.urandom(8 * MIB)})
    assert len(image.layers[0].data) > 8 * MIB
    layout = builders.image_layout(tmp_path / "src", "v1", image)
    run_as = {"group": SERVICE_GROUP, "extra_groups": [], "umask": _unit_umask()}
    with _installed_data_dir() as root, _running_registry(
        root, auth=True, sqlite=True, run_as=run_as, REGISTRY_BEHIND_PROXY="true", REGISTRY_X_ACCEL_REDIRECT="/_blobs/",
    ) as registry:
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
            assert registry.log.read().count("via=web-server") >= len(image.blobs)
            _check_blob_served_by_nginx(tmp_path, registry, host, creds, image.layers[0])
            _check_chunked_patch_through_nginx(tmp_path, registry, host, creds)
            _check_nginx_reads_only_blobs(registry.data_dir)
            # nginx closes /metrics; the app alone would let any loopback caller (nginx) in.
            assert _status(f"https://{host}/metrics") == 403
            assert registry.request("GET", "/metrics").status == 200
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


def _basic(creds: str) -> str:
    return "Basic " + base64.b64encode(creds.encode()).decode()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, context=_insecure_context()) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _nginx_access(directory: Path, request_id: str, wait: float = 5.0) -> list[str]:
    """`status body_bytes_sent upstream_response_length` of nginx's lines for one request id.

    nginx writes a request's line in its log phase, after the last byte went out: a client
    that has read the whole body can look before the line exists, so wait for it a little.
    """
    deadline = time.monotonic() + wait
    while True:
        lines = (directory / "access.log").read_text().splitlines()
        found = [line.split(" ", 1)[1] for line in lines if line.startswith(request_id + " ")]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _check_blob_served_by_nginx(directory: Path, registry, host: str, creds: str, blob: builders.Blob) -> None:
    """nginx sent the bytes and the app none: nginx's own log says how much each side sent
    for that request, and the app's line for the same request id says it redirected."""
    url = f"https://{host}/v2/deploy/app/blobs/{blob.digest}"
    request = urllib.request.Request(url, headers={"Authorization": _basic(creds), "X-Request-ID": "proof-whole"})
    with urllib.request.urlopen(request, context=_insecure_context()) as response:
        assert response.read() == blob.data
        assert response.headers["Docker-Content-Digest"] == blob.digest
        assert response.headers["Content-Length"] == str(len(blob.data))
    ranged = urllib.request.Request(url, headers={"Authorization": _basic(creds), "Range": "bytes=5-14",
                                                  "X-Request-ID": "proof-range"})
    with urllib.request.urlopen(ranged, context=_insecure_context()) as response:
        assert response.status == 206 and response.read() == blob.data[5:15]
        assert response.headers["Content-Range"] == f"bytes 5-14/{len(blob.data)}"
    assert _nginx_access(directory, "proof-whole") == [f"200 {len(blob.data)} 0"]
    assert _nginx_access(directory, "proof-range") == ["206 10 0"]
    log = registry.log.read()
    for request_id, sent in (("proof-whole", len(blob.data)), ("proof-range", 10)):
        (line,) = [line for line in log.splitlines() if f"[{request_id}] pull blob" in line]
        assert "via=web-server" in line and f"bytes={sent}" in line
        (request_line,) = [line for line in log.splitlines() if f"[{request_id}] GET " in line]
        assert f"bytes_out={sent}" in request_line


def _check_chunked_patch_through_nginx(directory: Path, registry, host: str, creds: str) -> None:
    """docker push's layer upload (one PATCH, Transfer-Encoding: chunked, no length) of more
    than nginx's default 1 MiB body limit, through nginx: no size limit, no buffering."""
    data = os.urandom(3 * MIB + 17)
    address, port = host.rsplit(":", 1)
    conn = http.client.HTTPSConnection(address, int(port), context=_insecure_context(), timeout=60)
    auth = {"Authorization": _basic(creds)}
    try:
        started = send(conn, "POST", "/v2/deploy/chunked/blobs/uploads/", b"", auth)
        assert started.status == 202, started.body
        conn.putrequest("PATCH", started.headers["Location"])
        for name, value in {**auth, "Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        for offset in range(0, len(data), 256 * 1024):
            piece = data[offset:offset + 256 * 1024]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        patched = conn.getresponse()
        patched.read()
        assert patched.status == 202 and patched.getheader("Range") == f"0-{len(data) - 1}"
        done = send(conn, "PUT", f"{patched.getheader('Location')}?digest={sha256(data)}", b"", auth)
        assert done.status == 201, done.body
        pulled = send(conn, "GET", f"/v2/deploy/chunked/blobs/{sha256(data)}", None, auth)
        assert pulled.status == 200 and pulled.body == data
    finally:
        conn.close()
    assert "Permission denied" not in (directory / "error.log").read_text()


def _check_nginx_reads_only_blobs(data_dir: Path) -> None:
    """As nginx's workers (www-data in the service's group): blobs readable; the database,
    the keys and uploads in progress not."""
    def readable(path: Path) -> bool:
        result = subprocess.run(["cat", str(path)], user=WEB_USER, group=SERVICE_GROUP, extra_groups=[],
                                capture_output=True, timeout=30)
        return result.returncode == 0

    blobs = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    assert blobs and all(readable(p) for p in blobs)
    secrets = [data_dir / name for name in ("registry.sqlite3", "secret_key", "token_key.pem", "admin.password")]
    secrets += list(data_dir.glob("registry.sqlite3-*"))
    present = [p for p in secrets if p.exists()]
    assert data_dir / "registry.sqlite3" in present and data_dir / "secret_key" in present
    assert not [p.name for p in present if readable(p)]
    assert not readable(data_dir / "uploads")  # not even listable: `cat` of a directory fails anyway
    listing = subprocess.run(["ls", str(data_dir / "uploads")], user=WEB_USER, group=SERVICE_GROUP,
                             extra_groups=[], capture_output=True, timeout=30)
    assert listing.returncode != 0


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
    # The webhook loop beside the registry, as registry-webhooks.service on a host.
    assert '["python", "manage.py", "deliver_webhooks", "--loop"' in compose
    assert "--build-arg" not in dockerfile and "ARG BASE_IMAGE=python:3.11-slim" in dockerfile
