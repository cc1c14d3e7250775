"""bench/workloads.py against a real server: every answer is counted and checked, and a
wrong answer ends the run instead of counting as a fast one."""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import servers  # noqa: E402
import workloads  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bench_server(live_registry):
    server = servers.Server("ours", int(live_registry.host.rsplit(":", 1)[1]), proc=None)
    workloads.push_small_images(server, "benchcheck", 1)
    return server


@pytest.mark.parametrize("method", ["HEAD", "GET"])
@pytest.mark.parametrize("concurrency", [1, 4])
def test_manifest_reads_answer_every_request(bench_server, method, concurrency):
    rate, p50, p99 = workloads.manifest_reads(bench_server, "benchcheck/small0", concurrency, 40, method)
    assert rate > 0 and 0 < p50 <= p99


def test_a_failed_read_ends_the_run(bench_server):
    with pytest.raises(SystemExit, match="answered 404"):
        workloads.manifest_reads(bench_server, "benchcheck/missing", 2, 4, "GET")


def test_a_body_that_does_not_match_its_digest_ends_the_run(bench_server, monkeypatch):
    real = workloads._Reads.receive

    def tampered(self, method):
        answer = real(self, method)
        return answer and (*answer[:3], answer[3] + b" ")

    monkeypatch.setattr(workloads._Reads, "receive", tampered)
    with pytest.raises(SystemExit, match="does not match its digest"):
        workloads.manifest_reads(bench_server, "benchcheck/small0", 1, 2, "GET")


def test_a_silent_server_ends_a_pull_after_the_client_timeout(monkeypatch):
    """The pull connections are blocking for speed; the kernel's receive timeout still ends
    a wait on a server that accepted and never answers."""
    monkeypatch.setattr(servers, "CLIENT_TIMEOUT", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        conn = servers.Server("silent", silent.getsockname()[1], proc=None).connection()
        conn.request("GET", "/v2/")
        assert conn.sock.gettimeout() is None
        started = time.monotonic()
        with pytest.raises(OSError):
            conn.getresponse()
        assert 0.9 < time.monotonic() - started < 10
        conn.close()


def test_pulls_verify_the_blob_they_receive(bench_server):
    digest = workloads.digest_of(5, 1)
    workloads.push_monolithic(bench_server, "benchcheck/blob", 5, 1)
    assert workloads.pull(bench_server, "benchcheck/blob", digest) == workloads.MIB
    pending: list = []
    workloads.pull(bench_server, "benchcheck/blob", digest, pending)
    with pytest.raises(SystemExit, match="does not match"):
        workloads.verify(bench_server, pending[0][0][:-1] + b"x", digest)
