"""`make bench-replication`: one replication rule over 1,000 tags, timed, with the
worker's memory (issue 25).

Our registry starts as `make bench` starts it (bench/servers.py: gunicorn, access control
on) and Debian's Distribution as the remote (no auth). 1,000 distinct small images (a
2 KiB layer and a config each) are pushed here over /v2/ as tags of one repository;
then the worker, `manage.py replicate --once` as operators run it, takes in turn:

1. a full push pass of a rule covering them (3,000 blobs and manifests to send);
2. the same pass again (every tag already there: a HEAD each, nothing sent);
3. a full pull pass of the same 1,000 tags from Distribution into a fresh namespace.

Each is timed from the worker's start to its exit (its Django start-up included), with
the artifacts logged per second, and the worker's peak RSS (ru_maxrss of that one child,
from wait4) beside its peak when it starts and finds nothing to do: memory that grew with
the tag count would show as the difference.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers  # noqa: E402
import workloads as w  # noqa: E402

TAGS = int(os.environ.get("BENCH_REPLICATION_TAGS", "1000"))
REPO = "bench/app"


def worker_env(data_dir: Path) -> dict:
    """The environment start_ours gives the server: the worker shares its database."""
    return {**os.environ, "REGISTRY_DATA_DIR": str(data_dir), "REGISTRY_LOG_LEVEL": "WARNING",
            "REGISTRY_ADMIN_PASSWORD": servers.ADMIN_PASSWORD}


def fill(server) -> float:
    """TAGS distinct images as tags of REPO, over one kept-alive connection: seconds taken."""
    conn = server.connection()
    started = time.perf_counter()
    for i in range(TAGS):
        layer, config, manifest = w.small_image(i)
        for blob in (layer, config):
            location = w._start(server, conn, REPO)
            sep = "&" if "?" in location else "?"
            w.request(server, conn, "PUT", f"{location}{sep}digest=sha256:{hashlib.sha256(blob).hexdigest()}",
                      [blob], {"Content-Length": str(len(blob)), "Content-Type": "application/octet-stream"})
        w.request(server, conn, "PUT", f"/v2/{REPO}/manifests/t{i:04d}", [manifest], {
            "Content-Length": str(len(manifest)), "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    return time.perf_counter() - started


def shell(env: dict, code: str) -> str:
    result = subprocess.run([servers.PYTHON, "manage.py", "shell", "-c", code], cwd=servers.ROOT, env=env,
                            capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def queue_pass(env: dict, rule: str, remote_url: str, **fields) -> None:
    """The remote and the rule as staff enter them, and a full pass queued by hand."""
    shell(env, (
        "from replication.models import Remote, Rule\nfrom replication.triggers import replicate_now\n"
        f"remote, _ = Remote.objects.update_or_create(name='dist', defaults=dict(upstream_url={remote_url!r}))\n"
        f"rule, _ = Rule.objects.update_or_create(name={rule!r}, defaults=dict(remote=remote, **{fields!r}))\n"
        "replicate_now(rule)\n"
    ))


def run_worker(env: dict) -> tuple[float, int]:
    """`manage.py replicate --once`: its wall time, and its peak RSS in bytes."""
    started = time.perf_counter()
    proc = subprocess.Popen([servers.PYTHON, "manage.py", "replicate", "--once"], cwd=servers.ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or b"Traceback" in output:
        raise SystemExit(f"worker failed ({proc.returncode}):\n{output.decode(errors='replace')[-3000:]}")
    return elapsed, usage.ru_maxrss * 1024


def last_run(env: dict, rule: str) -> dict:
    return json.loads(shell(env, (
        "import json\nfrom replication.models import Run\n"
        f"r = Run.objects.filter(job__rule__name={rule!r}).latest('id')\n"
        "print(json.dumps(dict(succeeded=r.succeeded, copied=r.artifacts_copied, skipped=r.artifacts_skipped, "
        "failed=r.artifacts_failed, bytes=r.bytes_sent, error=r.error, "
        "seconds=(r.finished_at - r.started_at).total_seconds())))\n"
    )))


def remote_tags(server) -> int:
    conn = server.connection()
    _, body = w.request(server, conn, "GET", f"/v2/mirror/{REPO}/tags/list?n={TAGS + 1}")
    return len(json.loads(body).get("tags") or [])


def main() -> None:
    if servers.distribution_binary() is None:
        raise SystemExit("Debian's docker-registry (Distribution) is not installed: it is the remote here")
    with tempfile.TemporaryDirectory(prefix="bench-replication-") as tmp, servers.running(Path(tmp)) as started:
        ours, dist = started["ours"], started["distribution"]
        env = worker_env(Path(tmp) / "ours")
        print(f"filling: {TAGS} tags of {REPO}, pushed over /v2/ ...", flush=True)
        print(f"  filled in {fill(ours):.1f} s", flush=True)
        idle_seconds, idle_rss = run_worker(env)
        print(f"worker with nothing to do: {idle_seconds:.2f} s, peak RSS {idle_rss / w.MIB:.1f} MiB\n", flush=True)

        rows = []
        passes = (
            ("push, first pass", "bench-push", dict(direction="push", repositories=f"{REPO}", on_push=False,
                                                     destination_prefix="mirror")),
            ("push, second pass", "bench-push", None),
            ("pull into a fresh namespace", "bench-pull", dict(direction="pull", repositories=f"mirror/{REPO}",
                                                                destination_prefix="pulled")),
        )
        for label, rule, fields in passes:
            if fields is None:
                shell(env, "from replication.models import Rule\nfrom replication.triggers import replicate_now\n"
                           f"replicate_now(Rule.objects.get(name={rule!r}))\n")
            else:
                queue_pass(env, rule, f"http://127.0.0.1:{dist.port}", **fields)
            seconds, rss = run_worker(env)
            run = last_run(env, rule)
            artifacts = run["copied"] + run["skipped"] + run["failed"]
            rows.append((label, seconds, run["seconds"], artifacts, run, rss))
            print(f"{label}: {seconds:.1f} s", flush=True)
        pulled = shell(env, "from registry_api.models import Tag\n"
                            f"print(Tag.objects.filter(repository__name='pulled/mirror/{REPO}').count())")
        print(f"\ntags on the remote: {remote_tags(dist)}; pulled back here: {pulled}")

    print(f"\n{TAGS} tags, one repository; worker = manage.py replicate --once (Django start-up included)\n")
    print(f"{'pass':30} {'wall s':>7} {'run s':>7} {'artifacts':>9} {'art/s':>7} {'copied':>6} {'skipped':>7} "
          f"{'failed':>6} {'KiB moved':>9} {'peak RSS MiB':>12}")
    for label, seconds, run_seconds, artifacts, run, rss in rows:
        print(f"{label:30} {seconds:7.1f} {run_seconds:7.1f} {artifacts:9d} {artifacts / seconds:7.0f} "
              f"{run['copied']:6d} {run['skipped']:7d} {run['failed']:6d} {run['bytes'] / 1024:9.0f} "
              f"{rss / w.MIB:12.1f}")
    print(f"{'(worker with nothing to do)':30} {idle_seconds:7.1f} {'':>7} {'':>9} {'':>7} {'':>6} {'':>7} {'':>6} "
          f"{'':>9} {idle_rss / w.MIB:12.1f}")
    if any(not run["succeeded"] for *_, run, _ in rows):
        raise SystemExit("a pass failed: " + "; ".join(run["error"] for *_, run, _ in rows if run["error"]))


if __name__ == "__main__":
    main()
