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


def measure(server) -> dict[str, float]:
    time.sleep(0.5)
    sampler = RssSampler(server.proc.pid)
    idle = sampler.current()
    sampler.start()
    results: dict[str, float] = {}
    results["push 1 blob, monolithic (MiB/s)"] = w.push_monolithic(server, "bench/blob", 1, BLOB_MIB)
    results["push 1 blob, 16 MiB chunks (MiB/s)"] = w.push_chunked(server, "bench/blob", 2, BLOB_MIB)
    digest = w.digest_of(2, BLOB_MIB)
    started = time.perf_counter()
    w.pull(server, "bench/blob", digest)
    results["pull 1 blob, 1 stream (MiB/s)"] = BLOB_MIB / (time.perf_counter() - started)
    results["pull 1 blob, 4 streams (MiB/s)"] = w.pull_parallel(server, "bench/blob", digest, 4)
    results["push small images (images/s)"] = w.push_small_images(server, "bench", servers.SMALL_IMAGES)
    for concurrency in (1, 16):
        rate, p50, p99 = w.manifest_heads(server, "bench/small0", concurrency, HEADS)
        results[f"manifest HEAD, c={concurrency} (req/s)"] = rate
        results[f"manifest HEAD, c={concurrency} p50 (ms)"] = p50
        results[f"manifest HEAD, c={concurrency} p99 (ms)"] = p99
    sampler.stop.set()
    sampler.join()
    results["server RSS idle (MiB)"] = idle / w.MIB
    results["server RSS peak (MiB)"] = sampler.peak / w.MIB
    results["server RSS growth (MiB)"] = (sampler.peak - idle) / w.MIB
    return results


LOWER_IS_BETTER = ("(ms)", "(MiB)")


def main() -> int:
    runs: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="regbench") as tmp:
        for name, start in (("ours", servers.start_ours), ("distribution", servers.start_distribution)):
            server = start(Path(tmp) / name)
            if server is None:
                print("(Debian's docker-registry is not installed: no comparison)")
                continue
            try:
                runs[name] = measure(server)
            finally:
                server.stop()
    ours, theirs = runs["ours"], runs.get("distribution")
    print(f"\n{BLOB_MIB} MiB blob, {HEADS} HEADs, {servers.SMALL_IMAGES} small images; {os.cpu_count()} cores; "
          f"ours: gunicorn {os.environ.get('REGISTRY_WORKERS', '2')} gthread workers, token auth on")
    header = f"{'measure':40s} {'ours':>10s}" + (f" {'distribution':>13s} {'ratio':>7s}" if theirs else "")
    print(header)
    print("-" * len(header))
    for key, value in ours.items():
        line = f"{key:40s} {value:10.1f}"
        if theirs:
            ratio = value / theirs[key] if theirs[key] else float("inf")
            if key.endswith(LOWER_IS_BETTER):
                ratio = theirs[key] / value if value else float("inf")
            line += f" {theirs[key]:13.1f} {ratio:6.2f}x"
        print(line)
    if theirs:
        print("ratio: ours relative to Distribution, >1 is better for us (for ms and MiB: theirs/ours)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
