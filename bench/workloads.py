"""What the benchmark does to a server: streamed blob pushes and pulls of a large blob,
manifest HEADs at several concurrencies, and many small image pushes. Every digest pushed
or pulled is verified; a failed request ends the run."""
from __future__ import annotations

import hashlib
import http.client
import json
import selectors
import socket
import threading
import time

MIB = 1024 * 1024


def blob_chunks(seed: int, total_mib: int):
    """Incompressible content generated on the fly: a random MiB varied per index."""
    block = bytearray(hashlib.sha256(str(seed).encode()).digest() * (MIB // 32))
    for i in range(total_mib):
        block[:8] = i.to_bytes(8, "big")
        yield bytes(block)


def digest_of(seed: int, total_mib: int) -> str:
    h = hashlib.sha256()
    for chunk in blob_chunks(seed, total_mib):
        h.update(chunk)
    return "sha256:" + h.hexdigest()


def _repo_of(path: str) -> str:
    return path.split("/v2/", 1)[1].rsplit("/blobs/", 1)[0].rsplit("/manifests/", 1)[0]


def request(server, conn, method, path, body=None, headers=None, expect=(200, 201, 202, 204)):
    conn.putrequest(method, path, skip_accept_encoding=True)
    for key, value in {**server.headers_for(_repo_of(path)), **(headers or {})}.items():
        conn.putheader(key, value)
    conn.endheaders()
    for chunk in body or ():
        conn.send(chunk)
    response = conn.getresponse()
    data = response.read()
    if response.status not in expect:
        raise SystemExit(f"{server.name}: {method} {path}: {response.status} {data[:300]!r}")
    return response, data


def _start(server, conn, repo):
    response, _ = request(server, conn, "POST", f"/v2/{repo}/blobs/uploads/")
    return response.getheader("Location")


def push_monolithic(server, repo, seed, mib) -> float:
    digest, conn = digest_of(seed, mib), server.connection()
    location = _start(server, conn, repo)
    sep = "&" if "?" in location else "?"
    started = time.perf_counter()
    request(server, conn, "PUT", f"{location}{sep}digest={digest}", blob_chunks(seed, mib),
            {"Content-Length": str(mib * MIB), "Content-Type": "application/octet-stream"})
    return mib / (time.perf_counter() - started)


def push_chunked(server, repo, seed, mib, chunk_mib=16) -> float:
    digest, conn = digest_of(seed, mib), server.connection()
    location = _start(server, conn, repo)
    chunks, offset = blob_chunks(seed, mib), 0
    started = time.perf_counter()
    while offset < mib * MIB:
        part = [next(chunks) for _ in range(min(chunk_mib, mib - offset // MIB))]
        size = sum(map(len, part))
        response, _ = request(server, conn, "PATCH", location, part, {
            "Content-Length": str(size), "Content-Range": f"{offset}-{offset + size - 1}",
            "Content-Type": "application/octet-stream"})
        location, offset = response.getheader("Location"), offset + size
    sep = "&" if "?" in location else "?"
    request(server, conn, "PUT", f"{location}{sep}digest={digest}", None, {"Content-Length": "0"})
    return mib / (time.perf_counter() - started)


def buffer_for(size: int) -> bytearray:
    """A receive buffer with every page already touched, so page faults stay off the clock."""
    buffer = bytearray(size)
    buffer[::4096] = b"\x01" * len(range(0, size, 4096))
    return buffer


def pull(server, repo, digest, verify_later: list | None = None, buffer: bytearray | None = None) -> int:
    """GET a blob into one preallocated buffer, then check its digest.

    Hashing while receiving would cap a single stream at hashlib's speed (about 1.3 GB/s
    here), below what sendfile() delivers, and make the client the bottleneck; so the bytes
    land in memory first and are hashed after the clock stops (`verify_later` collects the
    buffers of timed pulls; without it the check is immediate)."""
    conn = server.connection()
    conn.request("GET", f"/v2/{repo}/blobs/{digest}", headers=server.headers_for(repo))
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"{server.name}: GET blob answered {response.status}")
    size = int(response.getheader("Content-Length"))
    if buffer is None or len(buffer) != size:
        buffer = bytearray(size)
    view, n = memoryview(buffer), 0
    while n < size:
        got = response.readinto(view[n:n + 8 * MIB])
        if not got:
            raise SystemExit(f"{server.name}: blob {digest} ended after {n} of {size} bytes")
        n += got
    conn.close()
    if verify_later is None:
        verify(server, buffer, digest)
    else:
        verify_later.append((buffer, digest))
    return n


def verify(server, buffer, digest) -> None:
    if "sha256:" + hashlib.sha256(buffer).hexdigest() != digest:
        raise SystemExit(f"{server.name}: pulled content of {digest} does not match")


def pull_parallel(server, repo, digest, streams, size) -> tuple[float, float]:
    """Aggregate MiB/s of `streams` simultaneous pulls, and the client's CPU % meanwhile."""
    sizes, pending = [], []
    buffers = [buffer_for(size) for _ in range(streams)]
    threads = [threading.Thread(target=lambda b=b: sizes.append(pull(server, repo, digest, pending, b)))
               for b in buffers]
    cpu, started = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    if len(sizes) != streams:
        raise SystemExit(f"{server.name}: a parallel pull failed")
    for buffer, d in pending:
        verify(server, buffer, d)
    return sum(sizes) / MIB / elapsed, 100 * used / elapsed


def pull_streamed(server, repo, digest) -> None:
    """A pull hashed as it arrives, as a client with little memory does (the many-clients run)."""
    conn = server.connection()
    conn.request("GET", f"/v2/{repo}/blobs/{digest}", headers=server.headers_for(repo))
    response = conn.getresponse()
    h = hashlib.sha256()
    while chunk := response.read(4 * MIB):
        h.update(chunk)
    conn.close()
    if response.status != 200 or "sha256:" + h.hexdigest() != digest:
        raise SystemExit(f"{server.name}: streamed pull of {digest} failed ({response.status})")


def many_clients(server, repo, pulls, pushes, mib) -> float:
    """`pulls` simultaneous pulls of one blob and `pushes` simultaneous pushes of distinct
    blobs, each `mib` MiB, all verified: seconds until the last one is done. A worker killed
    by a timeout would break a stream and end the run."""
    digest = digest_of(100, mib)
    push_monolithic(server, repo, 100, mib)
    errors: list[BaseException] = []

    def guarded(fn, *args):
        try:
            fn(*args)
        except BaseException as exc:  # SystemExit included: report, don't hang the run
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(pull_streamed, server, repo, digest)) for _ in range(pulls)]
    threads += [threading.Thread(target=guarded, args=(push_monolithic, server, repo, 200 + i, mib))
                for i in range(pushes)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{server.name}: {len(errors)} of {len(threads)} transfers failed: {errors[0]}")
    return time.perf_counter() - started


def small_image(index: int) -> tuple[bytes, bytes, bytes]:
    layer = hashlib.sha256(f"layer {index}".encode()).digest() * 64
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
        "sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": len(layer),
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest()}],
    }).encode()
    return layer, config, manifest


def push_small_images(server, prefix, count) -> float:
    conn = server.connection()
    started = time.perf_counter()
    for i in range(count):
        repo = f"{prefix}/small{i}"
        layer, config, manifest = small_image(i)
        for blob in (layer, config):
            location = _start(server, conn, repo)
            sep = "&" if "?" in location else "?"
            digest = "sha256:" + hashlib.sha256(blob).hexdigest()
            request(server, conn, "PUT", f"{location}{sep}digest={digest}", [blob],
                    {"Content-Length": str(len(blob)), "Content-Type": "application/octet-stream"})
        response, _ = request(server, conn, "PUT", f"/v2/{repo}/manifests/latest", [manifest], {
            "Content-Length": str(len(manifest)), "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        if response.getheader("Docker-Content-Digest") != "sha256:" + hashlib.sha256(manifest).hexdigest():
            raise SystemExit(f"{server.name}: manifest digest mismatch")
    return count / (time.perf_counter() - started)


def manifest_reads(server, repo, concurrency, total, method="HEAD") -> tuple[float, float, float]:
    """HEAD or GET by tag on `concurrency` kept-alive connections: requests/s, p50 and p99
    latency in ms. Each answer must be a 200, and a GET's body must match its
    Docker-Content-Digest (checked after the clock stops for that request).

    One thread drives every connection through a selector, each sending its next request
    when the last is answered. http.client in 16 threads cost the client ~0.2 ms of CPU
    per request (40% of a core at c=16, on a 2-core machine the servers share), its
    threads contending for one GIL; this costs about a quarter of that."""
    request = _request_bytes(server, repo, method)
    per_connection = total // concurrency
    selector = selectors.DefaultSelector()
    latencies: list[float] = []
    for _ in range(concurrency):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, _Reads(sock, per_connection))
    started = time.perf_counter()
    try:
        for key in selector.get_map().values():
            key.data.send(request)
        while selector.get_map():
            events = selector.select(timeout=60)
            if not events:
                raise SystemExit(f"{server.name}: no manifest {method} answered for 60 s")
            for key, _ in events:
                reads = key.data
                answer = reads.receive(method)
                if answer is None:
                    continue
                latencies.append(answer[0])
                if answer[1] != b"200":
                    raise SystemExit(f"{server.name}: {method} manifest answered {answer[1].decode()}")
                if method == "GET" and "sha256:" + hashlib.sha256(answer[3]).hexdigest() != answer[2]:
                    raise SystemExit(f"{server.name}: manifest GET body does not match its digest")
                if reads.left:
                    reads.send(request)
                else:
                    selector.unregister(reads.sock)
                    reads.sock.close()
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()
        selector.close()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return len(latencies) / elapsed, p(0.50), p(0.99)


def _request_bytes(server, repo: str, method: str) -> bytes:
    headers = {"Host": f"127.0.0.1:{server.port}", "Accept": "application/vnd.oci.image.manifest.v1+json",
               **server.headers_for(repo)}
    lines = [f"{method} /v2/{repo}/manifests/latest HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class _Reads:
    """One kept-alive connection of manifest_reads: what it received so far of an answer."""

    def __init__(self, sock: socket.socket, count: int) -> None:
        self.sock, self.left, self.buffer, self.sent_at = sock, count, b"", 0.0

    def send(self, request: bytes) -> None:
        self.sent_at = time.perf_counter()
        self.sock.sendall(request)  # far below the socket's buffer: never blocks
        self.left -= 1

    def receive(self, method: str):
        """(latency s, status, Docker-Content-Digest, body) once an answer is whole, else None.
        Answers must carry Content-Length (both servers send it for manifests)."""
        data = self.sock.recv(65536)
        if not data:
            raise SystemExit("the server closed a kept-alive connection")
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = self.buffer[:end].split(b"\r\n")
        headers = dict(line.split(b":", 1) for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, value in headers.items()}
        length = 0 if method == "HEAD" else int(headers[b"content-length"])
        if len(self.buffer) < end + 4 + length:
            return None
        body, self.buffer = self.buffer[end + 4 : end + 4 + length], self.buffer[end + 4 + length :]
        digest = headers.get(b"docker-content-digest", b"").decode()
        return time.perf_counter() - self.sent_at, lines[0].split(b" ", 2)[1], digest, body
