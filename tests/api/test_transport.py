"""``zdte serve`` under socket abuse (issue 14 items 3, 12, 13): idle sockets, slow headers,
``Too many open files``, a spoofed ``X-Forwarded-For``, unbounded rate-limit buckets and key guessing.

Everything is on 127.0.0.1 with a bounded number of sockets and requests; waits are on events
(a socket closing, a response) with timeouts, never sleeps.
"""

from __future__ import annotations

import errno
import logging
import resource
import socket
import warnings

import httpx

from zdte_tui.api.auth import RateLimiter
from zdte_tui.api.server import ServerThread, create_app
from zdte_tui.api.transport import (
    ThrottledLog,
    TransportLimits,
    TransportStats,
    loop_exception_handler,
)

from .fake_service import FakeFlowService

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _idle_socket_budget(wanted: int = 300) -> int:
    """How many idle client sockets this process may open: ``wanted``, within a quarter of ``ulimit -n``."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return wanted if soft == resource.RLIM_INFINITY else max(16, min(wanted, soft // 4))


def _open_idle(host: str, port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=5)
        out.append(s)
    return out


# --------------------------------------------------------------------------- idle sockets and the cap
def test_hundreds_of_idle_sockets_do_not_stop_health_or_keyed_requests():
    app = create_app(FakeFlowService(), api_keys={"k": "alpha"}, rate_limit_per_minute=0)
    n = _idle_socket_budget(300)
    limits = TransportLimits(max_connections=32, header_timeout=120)
    with ServerThread(app, limits=limits) as srv:
        idle = _open_idle(srv.host, srv.port, n)
        try:
            with httpx.Client(base_url=srv.base_url, timeout=10) as client:
                health = client.get("/health")
                snap = client.get("/v1/flow/zero-dte/snapshot/SPY", headers={"X-Api-Key": "k"})
            open_now = len(srv.server.server_state.connections)
            stats = srv.server.stats
        finally:
            for s in idle:
                s.close()

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert snap.status_code == 200
    assert open_now <= 32
    assert stats.shed_idle >= 1 and stats.refused_busy == 0


def test_a_connection_that_never_completes_its_headers_is_closed_after_the_header_timeout():
    app = create_app(FakeFlowService(), api_keys={"k": "alpha"}, rate_limit_per_minute=0)
    with ServerThread(app, limits=TransportLimits(header_timeout=0.2)) as srv:
        with socket.create_connection((srv.host, srv.port), timeout=10) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes

            closed = s.recv(1024)

        stats = srv.server.stats

    assert closed == b""
    assert stats.header_timeouts == 1


def test_limits_default_to_a_connection_cap_below_the_descriptor_limit():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = TransportLimits()

    cap = limits.resolved_max_connections()

    assert 8 <= cap <= 1024
    if soft != resource.RLIM_INFINITY:
        assert cap <= max(8, soft - 64)
    assert limits.resolved_limit_concurrency() == cap + 1


# --------------------------------------------------------------------------- Too many open files
class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_throttled_log_writes_one_line_per_interval_with_the_count(caplog):
    clock = _Clock()
    throttle = ThrottledLog(logging.getLogger("zdte.test.throttle"), interval=60, clock=clock)

    with caplog.at_level(logging.WARNING, logger="zdte.test.throttle"):
        first = [throttle("accept", "too many open files") for _ in range(1000)]  # all at t = 0
        clock.t = 59.9
        throttle("accept", "too many open files")
        clock.t = 60.0
        throttle("accept", "too many open files")

    assert sum(first) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "too many open files", "too many open files (1001 times in the last 60 s)"]


class _Loop:
    def __init__(self) -> None:
        self.default_calls = 0

    def default_exception_handler(self, context) -> None:
        self.default_calls += 1


def test_accept_errors_from_descriptor_exhaustion_are_counted_and_throttled_others_pass_through(caplog):
    stats, clock, loop = TransportStats(), _Clock(), _Loop()
    handler = loop_exception_handler(ThrottledLog(logging.getLogger("zdte.test.accept"), 60, clock), stats)
    emfile = OSError(errno.EMFILE, "Too many open files")

    with caplog.at_level(logging.WARNING, logger="zdte.test.accept"):
        for _ in range(500):
            handler(loop, {"message": "socket.accept() out of system resource", "exception": emfile})
        handler(loop, {"message": "something else", "exception": ValueError("x")})

    assert stats.accept_errors == 500
    assert len(caplog.records) == 1 and "Too many open files" in caplog.records[0].getMessage()
    assert loop.default_calls == 1


# --------------------------------------------------------------------------- X-Forwarded-For
def _open_app(rate: int = 3):
    return create_app(FakeFlowService(), api_keys=None, rate_limit_per_minute=rate)


def test_x_forwarded_for_is_ignored_by_default_so_it_cannot_dodge_the_rate_limit():
    with ServerThread(_open_app(rate=3)) as srv, httpx.Client(base_url=srv.base_url, timeout=10) as client:
        codes = [client.get("/v1/flow/zero-dte/snapshot/SPY", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
                 for i in range(4)]

    assert codes == [200, 200, 200, 429]


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client():
    limits = TransportLimits(trusted_proxies=("127.0.0.1",))
    with ServerThread(_open_app(), limits=limits) as srv, httpx.Client(base_url=srv.base_url, timeout=10) as client:
        forwarded = client.get("/v1/flow/zero-dte/snapshot/SPY", headers={"X-Forwarded-For": "203.0.113.9"})
        direct = client.get("/v1/flow/zero-dte/snapshot/SPY")

    assert forwarded.status_code == 403 and forwarded.json()["error"] == "loopback_only"
    assert direct.status_code == 200


# --------------------------------------------------------------------------- bounded buckets
def test_rate_limit_buckets_of_thousands_of_clients_are_evicted_once_refilled():
    clock = _Clock()
    limiter = RateLimiter(60, clock=clock)
    for i in range(5000):
        limiter.take(f"client:10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    held = len(limiter)

    clock.t = 60.0
    limiter.take("client:one-more")

    assert held == 5000
    assert len(limiter) == 1 and limiter.evicted_full == 5000


def test_rate_limit_buckets_never_exceed_the_cap_even_within_one_refill_period():
    clock = _Clock()
    limiter = RateLimiter(60, clock=clock, max_buckets=1000)

    for i in range(20_000):
        clock.t = i * 1e-3
        limiter.take(f"client:{i}")

    assert len(limiter) == 1000 and limiter.evicted_lru == 19_000


def test_an_evicted_bucket_was_full_so_eviction_never_grants_extra_requests():
    clock = _Clock()
    limiter = RateLimiter(3, clock=clock)
    spent = [limiter.take("a")[0] for _ in range(4)]  # 3 allowed, the 4th refused

    clock.t = 60.0  # a full refill: the bucket is full again, so dropping it changes nothing
    limiter.take("b")
    again = [limiter.take("a")[0] for _ in range(4)]

    assert spent == [True, True, True, False]
    assert again == [True, True, True, False]


# --------------------------------------------------------------------------- key guessing
def test_failed_key_attempts_are_rate_limited_per_client_and_then_lock_out_even_a_good_key():
    clock = _Clock()
    app = create_app(FakeFlowService(), api_keys={"good": "alpha"}, rate_limit_per_minute=0, clock=clock,
                     failed_auth_per_minute=5)
    client = TestClient(app, raise_server_exceptions=False)
    url = "/v1/flow/zero-dte/snapshot/SPY"

    guesses = [client.get(url, headers={"X-Api-Key": f"guess-{i}"}) for i in range(6)]
    good_while_locked = client.get(url, headers={"X-Api-Key": "good"})
    clock.t = 12.0  # 5/min refills one attempt every 12 s
    good_after = client.get(url, headers={"X-Api-Key": "good"})

    assert [r.status_code for r in guesses] == [401] * 5 + [429]
    assert guesses[5].json()["error"] == "rate_limited" and guesses[5].headers["Retry-After"] == "12"
    assert good_while_locked.status_code == 429
    assert good_after.status_code == 200


_EMFILE_CHILD = r'''
import resource, sys, threading
resource.setrlimit(resource.RLIMIT_NOFILE, (96, 96))
sys.path.insert(0, sys.argv[1])
from zdte_tui.api.server import ServerThread, create_app
from zdte_tui.api.transport import TransportLimits
from tests.api.fake_service import FakeFlowService
app = create_app(FakeFlowService(), api_keys={"k": "alpha"}, rate_limit_per_minute=0)
# a cap far above the 96 descriptors: accept() itself runs out (EMFILE), which is what we watch
srv = ServerThread(app, limits=TransportLimits(max_connections=1000, header_timeout=120)).start()
print(srv.port, flush=True)
sys.stdin.readline()  # the parent says when to stop
srv.stop()
'''


def test_running_out_of_descriptors_logs_one_line_not_a_traceback_per_accept(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen([sys.executable, "-c", _EMFILE_CHILD, str(repo)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        idle = []
        for _ in range(150):  # beyond the child's 96 descriptors; the kernel backlog holds the rest
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        with httpx.Client(timeout=2) as client:  # cannot be accepted now: times out, the server survives
            try:
                client.get(f"http://127.0.0.1:{port}/health")
            except httpx.HTTPError:
                pass
        for s in idle:
            s.close()
        with httpx.Client(timeout=10) as client:
            health = client.get(f"http://127.0.0.1:{port}/health")
        child.stdin.write("stop\n")
        child.stdin.flush()
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()

    assert health.status_code == 200
    lines = [ln for ln in err.splitlines() if "cannot accept connections" in ln]
    assert 1 <= len(lines) <= 2 and "Too many open files" in lines[0]
    assert "Traceback" not in err
