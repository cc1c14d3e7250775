"""Benchmark: push and pull of one large blob against the registry under gunicorn.

Starts the registry with the production gunicorn settings on a free loopback port and a
temporary data directory, then measures (sizes from BENCH_BLOB_MIB, default 1024):
  - monolithic push (POST, then one PUT with the whole body),
  - chunked push (PATCHes of BENCH_CHUNK_MIB, default 16, with Content-Range),
  - docker-style push (one PATCH with Transfer-Encoding: chunked, then an empty PUT),
  - pull of the whole blob, 1 stream and 4 parallel streams,
and samples the RSS of the gunicorn master and workers every 20 ms throughout, printing
the idle RSS, the peak and the growth. Every digest pushed and pulled is verified.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
# Access control stays on, as installed; requests carry HTTP Basic credentials.
BENCH_PASSWORD = "bench-password"
AUTHORIZATION = "Basic " + base64.b64encode(f"admin:{BENCH_PASSWORD}".encode()).decode()
BLOB_MIB = int(os.environ.get("BENCH_BLOB_MIB", "1024"))
CHUNK_MIB = int(os.environ.get("BENCH_CHUNK_MIB", "16"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def blob_chunks(seed: int, total_mib: int):
    """Deterministic, incompressible content without holding it: a random MiB varied per index."""
    block = bytearray(hashlib.sha256(str(seed).encode()).digest() * (MIB // 32))
    for i in range(total_mib):
        block[:8] = i.to_bytes(8, "big")
        yield bytes(block)


def digest_of(seed: int, total_mib: int) -> str:
    h = hashlib.sha256()
    for chunk in blob_chunks(seed, total_mib):
        h.update(chunk)
    return "sha256:" + h.hexdigest()


class RssSampler(threading.Thread):
    """Sums VmRSS of a process and its children, keeping the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def current(self) -> int:
        pids = [self.pid]
        try:
            for task in os.listdir(f"/proc/{self.pid}/task"):
                with open(f"/proc/{self.pid}/task/{task}/children") as f:
                    pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)


def start_server(data_dir: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "REGISTRY_DATA_DIR": data_dir, "REGISTRY_BIND": f"127.0.0.1:{port}",
           "REGISTRY_LOG_LEVEL": "WARNING", "REGISTRY_ACCESS_LOG": "off",
           "REGISTRY_ADMIN_PASSWORD": BENCH_PASSWORD}
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [python, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "registry_project.wsgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/", headers={"Authorization": AUTHORIZATION})
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise SystemExit("registry did not start")


def request(conn, method, path, body=None, headers=None, expect=(200, 201, 202, 204)):
    conn.putrequest(method, path, skip_accept_encoding=True)
    for k, v in {"Authorization": AUTHORIZATION, **(headers or {})}.items():
        conn.putheader(k, v)
    conn.endheaders()
    if body is not None:
        for chunk in body:
            conn.send(chunk)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status not in expect:
        raise SystemExit(f"{method} {path}: {resp.status} {data[:300]!r}")
    return resp


def push_monolithic(conn, repo, seed):
    digest = digest_of(seed, BLOB_MIB)
    loc = request(conn, "POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
    t = time.perf_counter()
    request(conn, "PUT", f"{loc}?digest={digest}", blob_chunks(seed, BLOB_MIB),
            {"Content-Length": str(BLOB_MIB * MIB), "Content-Type": "application/octet-stream"})
    return time.perf_counter() - t, digest


def push_chunked(conn, repo, seed):
    digest = digest_of(seed, BLOB_MIB)
    loc = request(conn, "POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
    t = time.perf_counter()
    chunks = blob_chunks(seed, BLOB_MIB)
    offset = 0
    for _ in range(0, BLOB_MIB, CHUNK_MIB):
        part = [next(chunks) for _ in range(min(CHUNK_MIB, BLOB_MIB - offset // MIB))]
        size = sum(map(len, part))
        loc = request(conn, "PATCH", loc, part, {
            "Content-Length": str(size), "Content-Range": f"{offset}-{offset + size - 1}",
            "Content-Type": "application/octet-stream"}).getheader("Location")
        offset += size
    request(conn, "PUT", f"{loc}?digest={digest}", None, {"Content-Length": "0"})
    return time.perf_counter() - t, digest


def push_docker_style(conn, repo, seed):
    digest = digest_of(seed, BLOB_MIB)
    loc = request(conn, "POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
    t = time.perf_counter()
    framed = (b"%x\r\n%s\r\n" % (len(c), c) for c in blob_chunks(seed, BLOB_MIB))
    loc = request(conn, "PATCH", loc, _chain(framed, [b"0\r\n\r\n"]),
                  {"Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"}).getheader("Location")
    request(conn, "PUT", f"{loc}?digest={digest}", None, {"Content-Length": "0"})
    return time.perf_counter() - t, digest


def _chain(*iterables):
    for it in iterables:
        yield from it


def pull(port, repo, digest):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", f"/v2/{repo}/blobs/{digest}", headers={"Authorization": AUTHORIZATION})
    resp = conn.getresponse()
    h = hashlib.sha256()
    n = 0
    while chunk := resp.read(4 * MIB):
        h.update(chunk)
        n += len(chunk)
    conn.close()
    if "sha256:" + h.hexdigest() != digest:
        raise SystemExit(f"pulled content of {digest} does not match")
    return n


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="regbench") as data_dir:
        proc = start_server(data_dir, port)
        try:
            time.sleep(0.5)
            sampler = RssSampler(proc.pid)
            idle = sampler.current()
            sampler.start()
            conn = http.client.HTTPConnection("127.0.0.1", port)
            rows = []
            for label, fn, seed in (("push monolithic", push_monolithic, 1),
                                    (f"push chunked ({CHUNK_MIB} MiB PATCHes)", push_chunked, 2),
                                    ("push docker-style (chunked TE)", push_docker_style, 3)):
                seconds, digest = fn(conn, "bench/blob", seed)
                rows.append((label, BLOB_MIB / seconds))
            t = time.perf_counter()
            pull(port, "bench/blob", digest)
            rows.append(("pull, 1 stream", BLOB_MIB / (time.perf_counter() - t)))
            results = []
            t = time.perf_counter()
            threads = [threading.Thread(target=lambda: results.append(pull(port, "bench/blob", digest)))
                       for _ in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            if len(results) != 4:
                raise SystemExit("a parallel pull failed")
            rows.append(("pull, 4 streams (aggregate)", 4 * BLOB_MIB / (time.perf_counter() - t)))
            sampler.stop.set()
            sampler.join()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"blob size: {BLOB_MIB} MiB; gunicorn {os.environ.get('REGISTRY_WORKERS', '2')} workers (gthread)")
    for label, rate in rows:
        print(f"{label:40s} {rate:8.0f} MiB/s")
    print(f"{'server RSS idle (master+workers)':40s} {idle / MIB:8.1f} MiB")
    print(f"{'server RSS peak':40s} {sampler.peak / MIB:8.1f} MiB")
    print(f"{'server RSS growth':40s} {(sampler.peak - idle) / MIB:8.1f} MiB")


if __name__ == "__main__":
    sys.exit(main())
