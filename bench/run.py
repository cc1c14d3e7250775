"""`make bench`: our registry against CNCF Distribution on this machine, in one run.

Prints push/pull MiB/s for a large blob (BENCH_BLOB_MIB, default 1024), manifest HEAD and
GET requests/s by tag with p50/p99 at concurrency 1 and 16 (BENCH_HEADS of each), small
image pushes/s, the servers' peak RSS, and each server's CPU per MiB, image or request;
with Debian's `docker-registry` installed, each figure also for Distribution and as a
ratio (ours / theirs; for latencies and memory, lower is better). Both servers run side
by side and take turns on each workload, BENCH_REPEAT times (default 3): the figures are
medians, with our min-max beside them, because this machine's disk and loopback vary by a
third from one minute to the next. BENCH_AGAINST=<git revision> puts ours as of that
revision in Distribution's place (bench/servers.py): before and after a change, in one run.
"""
from __future__ import annotations

import os
import statistics
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
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


def server_pids(pid: int) -> list[int]:
    """A server process and its children (gunicorn's master and workers)."""
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return pids


def server_cpu_seconds(pid: int) -> float:
    """User and system CPU used so far by a server's processes, all threads included.

    Per unit of work it is the steadiest figure of a run on this machine, whose wall-clock
    speed drifts by a third: it counts what the server did, not what it waited for."""
    ticks = 0
    for one in server_pids(pid):
        try:
            with open(f"/proc/{one}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


class RssSampler(threading.Thread):
    """Sums the memory of a process and its children every 20 ms, keeping the peaks: VmRSS
    (what the targets name; pages shared between the master and its workers, such as the
    libraries, count once per process) and PSS (each shared page split among its sharers:
    what the processes really take together)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.peak_pss, self.stop = pid, 0, 0, threading.Event()
        self.phase_start = self.phase_peak = 0

    def begin_phase(self) -> None:
        """Measure growth from now on: `phase_peak - phase_start` after a workload."""
        self.phase_start = self.phase_peak = self.current()

    @staticmethod
    def _field(path: str, name: str) -> int:
        try:
            with open(path) as f:
                return next(int(line.split()[1]) * 1024 for line in f if line.startswith(name))
        except (OSError, StopIteration):
            return 0

    def current(self) -> int:
        return sum(self._field(f"/proc/{pid}/status", "VmRSS:") for pid in server_pids(self.pid))

    def current_pss(self) -> int:
        return sum(self._field(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in server_pids(self.pid))

    def run(self) -> None:
        # PSS every 0.25 s only: reading smaps_rollup walks the process's page tables under
        # its memory lock, which slowed the servers measurably when done every 20 ms.
        tick = 0
        while not self.stop.is_set():
            now = self.current()
            self.peak, self.phase_peak = max(self.peak, now), max(self.phase_peak, now)
            if tick % 12 == 0:
                self.peak_pss = max(self.peak_pss, self.current_pss())
            tick += 1
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


def _pull_one(server, repo, digest) -> tuple[float, float]:
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


def _reads(server, concurrency, method):
    rate, p50, p99 = w.manifest_reads(server, "bench/r0/small0", concurrency, HEADS, method)
    return {"": rate, " p50 (ms)": p50, " p99 (ms)": p99}


def workloads(rep: int):
    """(label, function, arguments, units of work) of one repetition: MiB moved, images or
    requests. Each repetition pushes content of its own, so it never finds its blobs
    already stored."""
    seed = 10 * rep
    yield "push 1 blob, monolithic (MiB/s)", w.push_monolithic, ("bench/blob", seed + 1, BLOB_MIB), BLOB_MIB
    yield "push 1 blob, 16 MiB chunks (MiB/s)", w.push_chunked, ("bench/blob", seed + 2, BLOB_MIB), BLOB_MIB
    pulled = w.digest_of(seed + 2, BLOB_MIB)  # the chunked push's blob
    yield "pull 1 blob, 1 stream (MiB/s)", _pull_one, ("bench/blob", pulled), BLOB_MIB
    yield "pull 1 blob, 4 streams (MiB/s)", _pull_parallel, ("bench/blob", pulled, 4), 4 * BLOB_MIB
    yield ("push small images (images/s)", w.push_small_images, (f"bench/r{rep}", servers.SMALL_IMAGES),
           servers.SMALL_IMAGES)
    for method in ("HEAD", "GET"):
        for concurrency in (1, 16):
            yield f"manifest {method}, c={concurrency} (req/s)", _reads, (concurrency, method), HEADS


def measure(started: dict) -> tuple[dict, dict, dict, dict]:
    """Every workload REPEAT times, the servers taking turns within each repetition (so a
    slow minute of the machine hits both), with `sync` before each timed run (so one run's
    dirty pages are not written back during the next). Figures are medians of the runs."""
    samplers = {}
    for name, server in started.items():
        samplers[name] = RssSampler(server.proc.pid)
    idle = {name: sampler.current() for name, sampler in samplers.items()}
    idle_pss = {name: sampler.current_pss() for name, sampler in samplers.items()}
    for sampler in samplers.values():
        sampler.start()
    runs: dict[str, dict[str, list[float]]] = {name: {} for name in started}
    cpus: dict[str, dict[str, list[float]]] = {name: {} for name in started}
    # Server CPU ms per unit of work (MiB, image, request), per workload.
    server_costs: dict[str, dict[str, list[float]]] = {name: {} for name in started}
    # The target's own measure: growth while one 1 GiB blob is pushed or pulled.
    single_growth = {name: 0 for name in started}
    for server in started.values():
        # The first sign-in hashes the password (PBKDF2, ~0.3 s of CPU): not part of a push.
        server.headers_for("bench/blob")
    for rep in range(REPEAT):
        for label, fn, args, units in workloads(rep):
            for name, server in started.items():
                os.sync()
                samplers[name].begin_phase()
                server_cpu = server_cpu_seconds(server.proc.pid)
                result, cpu = _client_cpu(fn, server, *args)
                server_costs[name].setdefault(label, []).append(
                    1000 * (server_cpu_seconds(server.proc.pid) - server_cpu) / units)
                if label.startswith(("push 1 blob", "pull 1 blob")):
                    time.sleep(0.05)  # one more sample after the last byte
                    single_growth[name] = max(single_growth[name], samplers[name].phase_peak - samplers[name].phase_start)
                figures = result if isinstance(result, dict) else {"": result}
                for suffix, value in figures.items():
                    key = label.replace(" (req/s)", suffix) if suffix else label
                    runs[name].setdefault(key, []).append(value)
                cpus[name].setdefault(label, []).append(cpu)
    many = f"{MANY_PULLS} pulls + {MANY_PUSHES} pushes of {MANY_MIB} MiB (s)"
    for name, server in started.items():
        os.sync()
        runs[name][many] = [w.many_clients(server, "bench/many", MANY_PULLS, MANY_PUSHES, MANY_MIB)]
    results: dict[str, dict[str, float]] = {}
    for name, sampler in samplers.items():
        sampler.stop.set()
        sampler.join()
        results[name] = {key: statistics.median(values) for key, values in runs[name].items()}
        results[name]["server RSS idle (MiB)"] = idle[name] / w.MIB
        results[name]["server RSS peak (MiB)"] = sampler.peak / w.MIB
        results[name]["server RSS growth, 1 blob push/pull (MiB)"] = single_growth[name] / w.MIB
        results[name]["server RSS growth, whole run (MiB)"] = (sampler.peak - idle[name]) / w.MIB
        results[name]["server PSS idle (MiB)"] = idle_pss[name] / w.MIB
        results[name]["server PSS peak (MiB)"] = sampler.peak_pss / w.MIB
    spread = {name: {key: (min(v), max(v)) for key, v in runs[name].items() if len(v) > 1} for name in started}
    return results, _medians(cpus), _medians(server_costs), spread


def _medians(per_server: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {name: {key: statistics.median(v) for key, v in runs.items()} for name, runs in per_server.items()}


LOWER_IS_BETTER = ("(ms)", "(MiB)", "(s)")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="regbench") as tmp, servers.running(Path(tmp)) as started:
        time.sleep(0.5)
        results, cpus, costs, spread = measure(started)
    other = next((name for name in results if name != "ours"), None)
    ours, theirs = results["ours"], results.get(other)
    print(f"\n{BLOB_MIB} MiB blob, {HEADS} manifest HEADs and GETs, {servers.SMALL_IMAGES} small images; median of {REPEAT} runs "
          f"(min-max of ours in brackets); {os.cpu_count()} cores; "
          f"ours: gunicorn {os.environ.get('REGISTRY_WORKERS', '2')} gevent workers, token auth on")
    header = f"{'measure':44s} {'ours':>9s} {'(min-max)':>15s}" + (f" {other:>13s} {'ratio':>7s}" if theirs else "")
    header += f"  {'client CPU % (ours/theirs)':>26s}  {'server CPU ms/unit (ours/theirs)':>32s}"
    print(header)
    print("-" * len(header))
    for key, value in ours.items():
        low, high = spread["ours"].get(key, (value, value))
        line = f"{key:44s} {value:9.1f} {f'({low:.4g}-{high:.4g})':>15s}"
        if theirs:
            ratio = value / theirs[key] if theirs[key] else float("inf")
            if key.endswith(LOWER_IS_BETTER):
                ratio = theirs[key] / value if value else float("inf")
            line += f" {theirs[key]:13.1f} {ratio:6.2f}x"
        if key in cpus["ours"]:
            client = f"{cpus['ours'][key]:.0f}" + (f" / {cpus[other][key]:.0f}" if theirs else "")
            server = f"{costs['ours'][key]:.3g}" + (f" / {costs[other][key]:.3g}" if theirs else "")
            line += f"  {client:>26s}  {server:>32s}"
        print(line)
    if theirs:
        print(f"ratio: ours relative to {other}, >1 is better for us (for ms, s and MiB: theirs/ours)")
    print("server CPU: user + system CPU of the server's processes per MiB moved, image pushed or request answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
