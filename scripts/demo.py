"""`make demo`: a newcomer's five-minute tour.

Starts the registry under gunicorn on a free loopback port with a throw-away data
directory, pushes a small generated multi-layer image with skopeo, pulls it back, and
prints what the API answers (/v2/, catalog, tags, manifest) and where the portal is.
It then waits for Enter on a terminal; without one (or with CI set) it stops at once, and
exits non-zero if anything did not work (tests/e2e/test_newcomer.py runs it so).
"""
from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import builders  # noqa: E402  (real OCI content with true digests)


DEMO_PASSWORD = "demo-password"
CREDS = f"admin:{DEMO_PASSWORD}"
STARTUP_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def show(title: str, url: str, accept: str | None = None) -> bytes:
    headers = {"Authorization": "Basic " + base64.b64encode(CREDS.encode()).decode()}
    if accept:
        headers["Accept"] = accept
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req) as resp:
        body = resp.read()
        print(f"\n== {title}: GET {url} -> {resp.status}")
        for header in ("Content-Type", "Docker-Content-Digest", "Docker-Distribution-API-Version"):
            if resp.headers.get(header):
                print(f"   {header}: {resp.headers[header]}")
        print("   " + body.decode()[:600].replace("\n", "\n   "))
        return body


def wait_until_up(server: subprocess.Popen, host: str, log: Path) -> None:
    """Until /v2/ answers (a 401 is an answer: up, asking for credentials)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the registry exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=5)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the registry did not answer within {STARTUP_TIMEOUT}s:\n{log.read_text()[-3000:]}")


def main() -> int:
    if not shutil.which("skopeo"):
        print("make demo needs skopeo: apt-get install -y skopeo")
        return 1
    port = free_port()
    host = f"127.0.0.1:{port}"
    # The interpreter make runs this with (.venv's): the same one that has gunicorn.
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="registry-demo") as tmp:
        # Everything that says where data goes is set here, so a .env or DATABASE_URL of a
        # real installation is never what the demo migrates and writes into.
        env = {**os.environ, "REGISTRY_DATA_DIR": f"{tmp}/data", "REGISTRY_BIND": host,
               "DATABASE_URL": f"sqlite:///{tmp}/data/registry.sqlite3", "REGISTRY_AUTH_ENABLED": "true",
               "REGISTRY_ADMIN_PASSWORD": DEMO_PASSWORD}
        subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        log = Path(tmp) / "gunicorn.log"
        with log.open("wb") as log_file:
            server = subprocess.Popen(
                [python, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "registry_project.wsgi:application"],
                cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            )
        try:
            wait_until_up(server, host, log)
            image = builders.image("demo", layer_count=3)
            layout = builders.image_layout(Path(tmp) / "layout", "v1", image)
            print(f"Registry running at http://{host}/ (data in a temporary directory)")
            print(f"Signed in as admin / {DEMO_PASSWORD} (make run prints or stores its own password)")
            unauthenticated = urllib.request.Request(f"http://{host}/v2/demo/hello/tags/list")
            try:
                urllib.request.urlopen(unauthenticated)
            except urllib.error.HTTPError as exc:
                print(f"\n== Without credentials: {exc.code}, WWW-Authenticate: {exc.headers['WWW-Authenticate']}")
            print(f"\n== Pushing a generated 3-layer image as {host}/demo/hello:v1 with skopeo")
            subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{layout}:v1",
                            f"docker://{host}/demo/hello:v1"], check=True)
            print("\n== Pulling it back")
            subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--src-creds", CREDS, f"docker://{host}/demo/hello:v1",
                            f"oci:{tmp}/pulled:v1"], check=True)
            show("API version check", f"http://{host}/v2/")
            show("Catalog", f"http://{host}/v2/_catalog")
            show("Tags", f"http://{host}/v2/demo/hello/tags/list")
            body = show("Manifest", f"http://{host}/v2/demo/hello/manifests/v1", builders.OCI_MANIFEST)
            same = body == image.manifest.data
            print(f"\nManifest served byte for byte as pushed: {same}")
            print(f"Portal: http://{host}/  Admin: http://{host}/admin/")
            print(f"With the docker CLI:  docker login {host} -u admin  then  docker push {host}/team/app:v1")
            if not sys.stdin.isatty() or os.environ.get("CI"):
                return 0 if same else 1
            input("\nPress Enter to stop the demo registry...")
            return 0 if same else 1
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
