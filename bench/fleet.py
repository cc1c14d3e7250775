"""`make bench-fleet`: how our registry and CNCF Distribution hold up under a fleet of slow
and idle clients, side by side in one run (issue 21).

Both servers start as `make bench` starts them (bench/servers.py: ours under gunicorn with
access control on and docker's Bearer tokens, Distribution without auth), and each takes
these loads in turn:

1. 200 slow pulls: each client GETs one 16 MiB blob, reading at 2 MiB/s (ideal 8 s) and
   checking its digest;
2. 64 slow pushes: each client POSTs an upload and PUTs a distinct 16 MiB blob with
   ?digest= and Content-Length, sending at 2 MiB/s (ideal 8 s);
3. 1,000 connections that each send a request line and part of the headers, never the
   rest, held 10 s;
4. 2,000 kept-alive connections that each made one GET /v2/ (answered 200), then idle for
   10 s.

During each load a prober sends a manifest HEAD by tag on a new connection every 100 ms,
and a pusher pushes a distinct 4 KiB blob every 500 ms; each request is timed on its own
thread, so a slow answer delays no later one. The table gives per server: the slow
transfers' wall time (median and max) against the ideal; the prober's and pusher's p50,
p99 and max over the requests that succeeded, and how many failed; with (3) and (4) open,
the prober's latency over the time all connections were held (a normal request then);
the server's RSS (VmRSS summed over its processes) idle before the loads, just before (4)
and with (4)'s connections open; and the client's own CPU use per load, which should stay
well below a core for the client not to set the pace.

Nothing here ends the run on a failure: a refused, reset, wrong or unanswered request
(REQUEST_TIMEOUT, 30 s, per socket operation) counts as failed, with its reason printed
under the table, and a slow transfer not done within BENCH_FLEET_DEADLINE seconds (60) of
its load's start is cut off and counted as failed. BENCH_FLEET_SCALE (default 1.0) scales
the four client counts, for a quick run. The held connections are plain non-blocking
sockets on one thread (bench/fleet_held.py); each slow transfer is a thread that sleeps
to keep its rate (bench/fleet_clients.py): the client shares the machine's cores with
both servers.
"""
from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fleet_clients as fc  # noqa: E402
import fleet_held  # noqa: E402
import servers  # noqa: E402
import workloads as w  # noqa: E402
from run import RssSampler  # noqa: E402

SCALE = float(os.environ.get("BENCH_FLEET_SCALE", "1.0"))
PULLS, PUSHES, HALF_SENT, IDLE = (max(1, round(n * SCALE)) for n in (200, 64, 1000, 2000))
BLOB_MIB, RATE = 16, 2 * w.MIB
IDEAL = BLOB_MIB * w.MIB / RATE
HOLD_SECONDS = 10.0
DEADLINE = float(os.environ.get("BENCH_FLEET_DEADLINE", "60"))
PROBE_EVERY, PUSH_EVERY = 0.1, 0.5
PULL_REPO, PUSH_REPO, SMALL_REPO = "fleet/pull", "fleet/push", "fleet/small"
PROBE_REPO = "fleet/probe/small0"  # the image workloads.push_small_images pushes
PULL_SEED, PUSH_SEED = 1, 1000


def small_blob(label: str, i: int) -> bytes:
    """A distinct 4 KiB blob per load and push."""
    return hashlib.sha256(f"{label} {i}".encode()).digest() * 128


def prepare(server) -> None:
    """What the loads read, pushed beforehand; each repository's token fetched once (and the
    password hashed) before any clock starts."""
    for repo in (PULL_REPO, PUSH_REPO, SMALL_REPO, PROBE_REPO):
        server.headers_for(repo)
    w.push_monolithic(server, PULL_REPO, PULL_SEED, BLOB_MIB)
    w.push_small_images(server, "fleet/probe", 1)


def watched(server, label: str, load):
    """Run `load()` with the prober and the pusher going: (its result, probes, pushes)."""
    probes, pushes = fc.Tally(), fc.Tally()
    prober = fc.Every(PROBE_EVERY, lambda i: fc.manifest_head(server, PROBE_REPO, probes))
    pusher = fc.Every(PUSH_EVERY, lambda i: fc.small_push(server, SMALL_REPO, small_blob(label, i), pushes))
    prober.start()
    pusher.start()
    try:
        return load(), probes, pushes
    finally:
        prober.stop()
        pusher.stop()


def in_threads(count: int, target) -> fc.Tally:
    """`target(i, deadline, tally)` on `count` threads at once; their tally once all end."""
    tally, deadline = fc.Tally(), time.monotonic() + DEADLINE
    threads = [threading.Thread(target=target, args=(i, deadline, tally)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def slow_pulls(server) -> fc.Tally:
    digest = w.digest_of(PULL_SEED, BLOB_MIB)
    return in_threads(PULLS, lambda i, deadline, tally: fc.slow_pull(
        server, PULL_REPO, digest, BLOB_MIB * w.MIB, RATE, deadline, tally))


def slow_pushes(server, digests: list[str]) -> fc.Tally:
    return in_threads(PUSHES, lambda i, deadline, tally: fc.slow_push(
        server, PUSH_REPO, w.blob_chunks(PUSH_SEED + i, BLOB_MIB), BLOB_MIB * w.MIB, digests[i], RATE, deadline, tally))


def request_bytes(server, complete: bool) -> bytes:
    """GET /v2/ as docker sends it; or its request line and part of its headers only."""
    auth = server.headers_for(PROBE_REPO).get("Authorization")
    lines = ["GET /v2/ HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "User-Agent: fleet-bench"]
    lines += [f"Authorization: {auth}"] if auth else []
    return ("\r\n".join(lines) + "\r\n\r\n").encode() if complete else ("\r\n".join(lines[:2]) + "\r\nUser-Ag").encode()


def loads(server, digests: list[str], while_held) -> list:
    """(table section, load) of each load, in order."""
    return [
        (f"1. {PULLS} slow pulls, {BLOB_MIB} MiB at {RATE // w.MIB} MiB/s", lambda: slow_pulls(server)),
        (f"2. {PUSHES} slow pushes, {BLOB_MIB} MiB at {RATE // w.MIB} MiB/s", lambda: slow_pushes(server, digests)),
        (f"3. {HALF_SENT} half-sent requests held {HOLD_SECONDS:.0f} s", lambda: fleet_held.hold(
            server.port, HALF_SENT, request_bytes(server, False), HOLD_SECONDS, answered=False)),
        (f"4. {IDLE} idle keep-alive connections held {HOLD_SECONDS:.0f} s", lambda: fleet_held.hold(
            server.port, IDLE, request_bytes(server, True), HOLD_SECONDS, answered=True, while_held=while_held)),
    ]


def measure(server, digests: list[str]) -> tuple[dict[tuple[str, str], str], list[str]]:
    """Every load against one server: its table column ((section, row) -> figure), and
    lines saying why requests failed."""
    rows, failures = {}, []
    sampler = RssSampler(server.proc.pid)
    rss = [sampler.current()]  # idle, then before (4), then with its connections open
    for section, load in loads(server, digests, lambda: rss.append(sampler.current())):
        if section.startswith("4."):
            rss.append(sampler.current())
        cpu, wall = time.process_time(), time.monotonic()
        result, probes, pushes = watched(server, section, load)
        cpu = 100 * (time.process_time() - cpu) / (time.monotonic() - wall)
        if isinstance(result, fc.Tally):
            rows.update({(section, row): figure for row, figure in transfer_rows(result).items()})
        else:
            rows.update({(section, row): figure for row, figure in held_rows(result, probes).items()})
        rows[section, "prober p50 / p99 / max (ms), failed"] = latencies(probes)
        rows[section, "pusher p50 / p99 / max (ms), failed"] = latencies(pushes)
        rows[section, "client CPU (% of one core)"] = f"{cpu:.0f}"
        for what, reasons in (("", result.failed if isinstance(result, fleet_held.Held) else result.reasons()),
                              (", prober", probes.reasons()), (", pusher", pushes.reasons())):
            if reasons:
                failures.append(f"  {server.name}, {section[:2]}{what}: "
                                + ", ".join(f"{r} x{n}" for r, n in reasons.most_common()))
    memory = "5. server memory (VmRSS of its processes, MiB)"
    idle, before, held = rss[0], rss[1], rss[-1]
    rows[memory, "idle, before the loads"] = f"{idle / w.MIB:.0f}"
    rows[memory, "just before (4)"] = f"{before / w.MIB:.0f}"
    rows[memory, f"with the {IDLE} idle connections open"] = f"{held / w.MIB:.0f}"
    rows[memory, "growth over just before (4) / over idle"] = f"{(held - before) / w.MIB:+.0f} / {(held - idle) / w.MIB:+.0f}"
    return rows, failures


def transfer_rows(tally: fc.Tally) -> dict[str, str]:
    times = [seconds for _, seconds in tally.ok]
    median, worst = (statistics.median(times), max(times)) if times else (float("nan"),) * 2
    return {"done / failed": f"{len(tally.ok)} / {len(tally.failed)}",
            f"wall median / max (s), ideal {IDEAL:.0f}": f"{median:.1f} / {worst:.1f}",
            "max / ideal": f"{worst / IDEAL:.2f}x"}


def latencies(tally: fc.Tally) -> str:
    return f"{tally.ms(0.5):.0f} / {tally.ms(0.99):.0f} / {tally.ms(1.0):.0f}, {len(tally.failed)}"


def held_rows(held: fleet_held.Held, probes: fc.Tally) -> dict[str, str]:
    """Counts of the held connections, and the probes made while all were held."""
    closed = f" (median {statistics.median(held.closed_after):.1f} s)" if held.closed_after else ""
    during = probes.between(*held.window)
    return {"open / failed / closed by server": f"{held.opened} / {sum(held.failed.values())} / "
                                                f"{len(held.closed_after)}{closed}",
            "normal request while held, p50 / max (ms), failed":
                f"{during.ms(0.5):.0f} / {during.ms(1.0):.0f}, {len(during.failed)}"}


def main() -> int:
    limit = fc.raise_open_files_limit()
    digests = [w.digest_of(PUSH_SEED + i, BLOB_MIB) for i in range(PUSHES)]
    columns, failures = {}, []
    with tempfile.TemporaryDirectory(prefix="regfleet") as tmp, servers.running(Path(tmp)) as started:
        for server in started.values():
            prepare(server)
        for name, server in started.items():
            columns[name], lines = measure(server, digests)
            failures += lines
    print(f"\nFleet: {BLOB_MIB} MiB at {RATE // w.MIB} MiB/s per slow transfer, connections held {HOLD_SECONDS:.0f} s, "
          f"scale {SCALE}; {os.cpu_count()} cores; open files limit {limit}; "
          "ours: gunicorn as deploy/gunicorn.conf.py sets it, token auth on")
    names = list(columns)
    header = f"{'measure':58s}" + "".join(f" {name:>24s}" for name in names)
    print(header)
    print("-" * len(header))
    section = None
    for key in columns[names[0]]:
        if key[0] != section:
            section = key[0]
            print(section)
        print(f"  {key[1]:56s}" + "".join(f" {columns[name][key]:>24s}" for name in names))
    print("Latencies are of the requests that succeeded; failures counted apart. A Go server (Distribution) "
          "returns freed memory to the system lazily: its RSS just before (4) may still hold (1)-(3)'s.")
    print("Failure reasons:")
    print("\n".join(failures) or "  none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
