"""`make bench`: our registry against CNCF Distribution on this machine, in one run.

Prints push/pull MiB/s for a large blob (BENCH_BLOB_MIB, default 1024), manifest HEAD
requests/s with p50/p99 at concurrency 1 and 16, small image pushes/s, and the servers'
peak RSS; with Debian's `docker-registry` installed, each figure also for Distribution and
as a ratio (ours / theirs; for latencies and memory, lower is better).
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers  # noqa: E402
import workloads as w  # noqa: E402

BLOB_MIB = int(os.environ.get("BENCH_BLOB_MIB", "1024"))
HEADS = int(os.environ.get("BENCH_HEADS", "3000"))
# The many-clients run: simultaneous pulls and pushes of blobs of this size, all verified.
MANY_PULLS, MANY_PUSHES = 32, 8
MANY_MIB = int(os.environ.get("BENCH_MANY_MIB", "256"))


class RssSampler(threading.Thread):
    """Sums VmRSS of a process and its children every 20 ms, keeping the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

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
                    total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
            except (OSError, StopIteration):
                pass
        return total

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)


def _client_cpu(fn, *args):
    """Run one workload; return its result and the benchmark client's CPU use over it, in %
    of one core (all client threads): near 100% would mean the client, not the server, sets
    the pace of a single-threaded workload. A workload that prepares buffers or verifies
    off the clock returns (result, cpu %) of its timed part itself."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn(*args)
    if isinstance(result, tuple) and fn in (_pull_one, _pull_parallel):
        return result
    return result, 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)


def _pull_one(server, repo, digest) -> float:
    pending: list = []
    buffer = w.buffer_for(BLOB_MIB * w.MIB)
    cpu, started = time.process_time(), time.perf_counter()
    w.pull(server, repo, digest, pending, buffer)
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    for buffer, d in pending:
        w.verify(server, buffer, d)
    return BLOB_MIB / elapsed, 100 * used / elapsed


def _pull_parallel(server, repo, digest, streams) -> tuple[float, float]:
    return w.pull_parallel(server, repo, digest, streams, BLOB_MIB * w.MIB)


def measure(server) -> tuple[dict[str, float], dict[str, float]]:
    """The figures of one server, and the client's CPU % for each timed workload."""
    time.sleep(0.5)
    sampler = RssSampler(server.proc.pid)
    idle = sampler.current()
    sampler.start()
    results: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def run(label, fn, *args):
        results[label], cpu[label] = _client_cpu(fn, *args)

    run("push 1 blob, monolithic (MiB/s)", w.push_monolithic, server, "bench/blob", 1, BLOB_MIB)
    run("push 1 blob, 16 MiB chunks (MiB/s)", w.push_chunked, server, "bench/blob", 2, BLOB_MIB)
    digest = w.digest_of(2, BLOB_MIB)
    run("pull 1 blob, 1 stream (MiB/s)", _pull_one, server, "bench/blob", digest)
    run("pull 1 blob, 4 streams (MiB/s)", _pull_parallel, server, "bench/blob", digest, 4)
    run("push small images (images/s)", w.push_small_images, server, "bench", servers.SMALL_IMAGES)
    for concurrency in (1, 16):
        (rate, p50, p99), used = _client_cpu(w.manifest_heads, server, "bench/small0", concurrency, HEADS)
        results[f"manifest HEAD, c={concurrency} (req/s)"], cpu[f"manifest HEAD, c={concurrency} (req/s)"] = rate, used
        results[f"manifest HEAD, c={concurrency} p50 (ms)"] = p50
        results[f"manifest HEAD, c={concurrency} p99 (ms)"] = p99
    run(f"{MANY_PULLS} pulls + {MANY_PUSHES} pushes of {MANY_MIB} MiB (s)", w.many_clients,
        server, "bench/many", MANY_PULLS, MANY_PUSHES, MANY_MIB)
    sampler.stop.set()
    sampler.join()
    results["server RSS idle (MiB)"] = idle / w.MIB
    results["server RSS peak (MiB)"] = sampler.peak / w.MIB
    results["server RSS growth (MiB)"] = (sampler.peak - idle) / w.MIB
    return results, cpu


LOWER_IS_BETTER = ("(ms)", "(MiB)", "(s)")


def main() -> int:
    runs: dict[str, dict[str, float]] = {}
    cpus: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="regbench") as tmp:
        for name, start in (("ours", servers.start_ours), ("distribution", servers.start_distribution)):
            server = start(Path(tmp) / name)
            if server is None:
                print("(Debian's docker-registry is not installed: no comparison)")
                continue
            try:
                runs[name], cpus[name] = measure(server)
            finally:
                server.stop()
    ours, theirs = runs["ours"], runs.get("distribution")
    print(f"\n{BLOB_MIB} MiB blob, {HEADS} HEADs, {servers.SMALL_IMAGES} small images; {os.cpu_count()} cores; "
          f"ours: gunicorn {os.environ.get('REGISTRY_WORKERS', '2')} gthread workers, token auth on")
    header = f"{'measure':44s} {'ours':>9s}" + (f" {'distribution':>13s} {'ratio':>7s}" if theirs else "")
    header += f"  {'client CPU % (ours/theirs)':>26s}"
    print(header)
    print("-" * len(header))
    for key, value in ours.items():
        line = f"{key:44s} {value:9.1f}"
        if theirs:
            ratio = value / theirs[key] if theirs[key] else float("inf")
            if key.endswith(LOWER_IS_BETTER):
                ratio = theirs[key] / value if value else float("inf")
            line += f" {theirs[key]:13.1f} {ratio:6.2f}x"
        if key in cpus["ours"]:
            line += f"  {cpus['ours'][key]:>17.0f}" + (f" / {cpus['distribution'][key]:.0f}" if theirs else "")
        print(line)
    if theirs:
        print("ratio: ours relative to Distribution, >1 is better for us (for ms, s and MiB: theirs/ours)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
