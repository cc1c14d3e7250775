"""The fleet benchmark's clients (bench/fleet_clients.py, bench/fleet_held.py) against a
real server, at a tiny scale: they count what they see, verify what they pull, report a
failed request as a failure with its reason, and stop by themselves."""
from __future__ import annotations

import resource
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import fleet  # noqa: E402
import fleet_clients as fc  # noqa: E402
import fleet_held  # noqa: E402
import servers  # noqa: E402
import workloads  # noqa: E402

pytestmark = pytest.mark.e2e

RATE = 4 * workloads.MIB  # 1 MiB in 0.25 s


@pytest.fixture(scope="module")
def fleet_server(live_registry):
    server = servers.Server("ours", int(live_registry.host.rsplit(":", 1)[1]), proc=None)
    workloads.push_monolithic(server, "fleetcheck/pull", 7, 1)
    workloads.push_small_images(server, "fleetcheck/probe", 1)
    return server


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        yield silent.getsockname()[1]


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_a_slow_pull_takes_its_paced_time_and_verifies_its_blob(fleet_server):
    tally = fc.Tally()
    fc.slow_pull(fleet_server, "fleetcheck/pull", workloads.digest_of(7, 1), workloads.MIB, RATE,
                 time.monotonic() + 30, tally)
    assert tally.failed == [] and len(tally.ok) == 1
    assert 0.24 < tally.ok[0][1] < 10


def test_a_pulled_blob_that_does_not_match_its_digest_counts_as_failed(fleet_server, monkeypatch):
    real = fc._receive

    def tampered(response, view):
        got = real(response, view)
        if got:
            view[0] ^= 1
        return got

    monkeypatch.setattr(fc, "_receive", tampered)
    tally = fc.Tally()
    fc.slow_pull(fleet_server, "fleetcheck/pull", workloads.digest_of(7, 1), workloads.MIB, RATE,
                 time.monotonic() + 30, tally)
    assert tally.ok == [] and tally.reasons() == {"digest mismatch": 1}


def test_a_slow_push_is_stored_under_its_digest(fleet_server):
    tally, digest = fc.Tally(), workloads.digest_of(8, 1)
    fc.slow_push(fleet_server, "fleetcheck/push", workloads.blob_chunks(8, 1), workloads.MIB, digest, RATE,
                 time.monotonic() + 30, tally)
    assert tally.failed == [] and 0.24 < tally.ok[0][1] < 10
    conn = fleet_server.connection()
    conn.request("HEAD", f"/v2/fleetcheck/push/blobs/{digest}")
    assert conn.getresponse().status == 200
    conn.close()


def test_a_slow_pull_from_a_silent_server_stops_at_its_deadline(silent_port):
    tally, started = fc.Tally(), time.monotonic()
    fc.slow_pull(servers.Server("silent", silent_port, proc=None), "r", "sha256:" + "0" * 64, workloads.MIB,
                 RATE, started + 1, tally)
    assert tally.reasons() == {"timeout": 1}
    assert time.monotonic() - started < 10


def test_probes_and_small_pushes_are_timed(fleet_server):
    probes, pushes = fc.Tally(), fc.Tally()
    fc.manifest_head(fleet_server, "fleetcheck/probe/small0", probes)
    fc.small_push(fleet_server, "fleetcheck/small", fleet.small_blob("test", 0), pushes)
    assert probes.failed == [] and pushes.failed == []
    assert 0 < probes.ms(0.5) < 10_000 and 0 < pushes.ms(1.0) < 10_000


def test_a_failed_probe_is_reported_with_its_reason(fleet_server, closed_port):
    tally = fc.Tally()
    fc.manifest_head(fleet_server, "fleetcheck/missing", tally)
    fc.manifest_head(servers.Server("gone", closed_port, proc=None), "fleetcheck/probe/small0", tally)
    assert tally.ok == [] and tally.reasons() == {"HTTP 404": 1, "refused": 1}
    assert tally.ms(0.5) != tally.ms(0.5)  # NaN: no latency is made up for failures


def test_a_probe_the_server_never_answers_times_out(silent_port, monkeypatch):
    monkeypatch.setattr(fc, "REQUEST_TIMEOUT", 0.5)
    tally = fc.Tally()
    fc.manifest_head(servers.Server("silent", silent_port, proc=None), "r", tally)
    assert tally.reasons() == {"timeout": 1}


def test_requests_on_a_schedule_run_each_on_time_and_stop(fleet_server):
    tally = fc.Tally()
    every = fc.Every(0.05, lambda i: fc.manifest_head(fleet_server, "fleetcheck/probe/small0", tally))
    every.start()
    time.sleep(0.5)
    every.stop()
    count = len(tally.ok)
    assert 5 <= count <= 15 and tally.failed == []
    time.sleep(0.2)
    assert len(tally.ok) == count  # none after stop()


def test_half_sent_requests_are_held_then_closed(fleet_server):
    started = time.monotonic()
    held = fleet_held.hold(fleet_server.port, 5, fleet.request_bytes(fleet_server, complete=False), 0.5,
                           answered=False)
    assert (held.opened, held.failed, held.still_open) == (5, {}, 5)
    assert 0.5 <= held.window[1] - held.window[0] < 5 and time.monotonic() - started < 10


def test_idle_connections_each_get_their_answer_first(fleet_server):
    samples = []
    held = fleet_held.hold(fleet_server.port, 5, fleet.request_bytes(fleet_server, complete=True), 0.3,
                           answered=True, while_held=lambda: samples.append(time.monotonic()))
    assert (held.opened, held.failed, held.still_open) == (5, {}, 5)
    assert len(samples) == 1 and held.window[0] < samples[0] <= held.window[1]


def test_held_connections_count_wrong_answers_and_refusals(fleet_server, closed_port):
    missing = f"GET /v2/fleetcheck/missing/manifests/x HTTP/1.1\r\nHost: 127.0.0.1:{fleet_server.port}\r\n\r\n"
    held = fleet_held.hold(fleet_server.port, 3, missing.encode(), 0.1, answered=True)
    assert (held.opened, held.failed) == (0, {"HTTP 404": 3})
    held = fleet_held.hold(closed_port, 3, missing.encode(), 0.1, answered=True)
    assert (held.opened, held.failed) == (0, {"refused": 3})


def test_held_connections_the_server_lets_go_are_counted(fleet_server):
    # A request line the server rejects at once: it answers 400 and closes.
    held = fleet_held.hold(fleet_server.port, 3, b"NOT A REQUEST\r\nHost: x\r\n", 1, answered=False)
    assert held.opened == 3 and held.still_open == 0
    assert all(0 <= seconds < 1 for seconds in held.closed_after)


def test_the_open_files_limit_is_raised_to_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        assert fc.raise_open_files_limit() == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_an_unexpected_status_is_a_failure_not_an_exception(fleet_server):
    tally = fc.Tally()
    fc.slow_pull(fleet_server, "fleetcheck/pull", "sha256:" + "1" * 64, workloads.MIB, RATE,
                 time.monotonic() + 30, tally)
    assert tally.reasons() == {"HTTP 404": 1}
