"""Benchmark `zdte serve`: concurrent clients hammering snapshot and heatmap over loopback HTTP.

    python benchmarks/bench_api.py [--seconds 5] [--clients 4] [--service auto|real|fake]

The server runs in a child process (so client threads and server do not share a GIL) on
127.0.0.1 with one Alpha key and no rate limit, serving the real embedded ``FlowService`` on the
simulator (SPY, QQQ; seed 7; clock at 10:30 ET playing at 1x, so the engine ingests events while
it answers) or, with ``--service fake`` or when the real service cannot be built, the
deterministic test fake. The clients are threads, each with its own keep-alive ``httpx.Client``,
alternating ``GET /v1/flow/zero-dte/snapshot/SPY`` and ``GET /v1/flow/zero-dte/heatmap/SPY``
(gex, raw, 60 minutes) for ``--seconds``. Prints requests/s and p50/p99 latency per endpoint.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
API_KEY = "bench-key"
HOST = "127.0.0.1"
ENDPOINTS = {
    "snapshot": "/v1/flow/zero-dte/snapshot/SPY",
    "heatmap": "/v1/flow/zero-dte/heatmap/SPY?metric=gex&mode=raw&bar=1m&minutes=60",
}


def _build_service(kind: str):
    """(service, description). ``auto`` tries the real FlowService, falling back to the fake."""
    if kind in ("auto", "real"):
        try:
            from zdte_tui.service import FlowService

            svc = FlowService.from_sim(["SPY", "QQQ"], seed=7, at="10:30", speed=1.0)
            svc.start()
            if not svc.wait_ready(timeout=300):
                raise RuntimeError("simulator history did not load within 300 s")
            return svc, "real FlowService on the simulator (SPY, QQQ; seed 7; 10:30 ET, playing at 1x)"
        except Exception as exc:  # noqa: BLE001 - report and fall back when allowed
            if kind == "real":
                raise
            print(f"bench: real FlowService unavailable ({exc}); using the fake", file=sys.stderr)
    sys.path.insert(0, str(ROOT))
    from tests.api.fake_service import FakeFlowService

    return FakeFlowService(), "FakeFlowService (tests/api/fake_service.py, deterministic, no engine)"


def serve_child(kind: str) -> None:
    """Child process: bind a free loopback port, print ``READY <port> <description>``, serve forever."""
    from zdte_tui.api.server import create_app, uvicorn_server

    service, description = _build_service(kind)
    app = create_app(service, api_keys={API_KEY: "alpha"}, rate_limit_per_minute=0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP: asyncio sets NODELAY
    sock.bind((HOST, 0))
    sock.listen(256)
    port = sock.getsockname()[1]
    print(f"READY {port} {description}", flush=True)
    uvicorn_server(app, host=HOST, port=port, log_level="warning").run(sockets=[sock])


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def hammer(base_url: str, seconds: float, clients: int) -> dict[str, dict[str, float]]:
    """Run ``clients`` threads for ``seconds``; per-endpoint count, errors, latencies (s)."""
    import httpx

    latencies: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    errors: dict[str, int] = {name: 0 for name in ENDPOINTS}
    lock = threading.Lock()
    deadline = [0.0, 0.0]  # [end, start], set when every client is warmed up

    def open_the_gate() -> None:
        deadline[1] = time.perf_counter()
        deadline[0] = deadline[1] + seconds

    start_gate = threading.Barrier(clients + 1, action=open_the_gate)

    def worker(index: int) -> None:
        names = list(ENDPOINTS)
        mine = {name: [] for name in names}
        bad = {name: 0 for name in names}
        with httpx.Client(base_url=base_url, headers={"X-Api-Key": API_KEY}, timeout=30.0) as http:
            for name in names:  # warm the connection and the service caches
                http.get(ENDPOINTS[name])
            start_gate.wait()
            i = index
            while time.perf_counter() < deadline[0]:
                name = names[i % len(names)]
                i += 1
                t0 = time.perf_counter()
                resp = http.get(ENDPOINTS[name])
                elapsed = time.perf_counter() - t0
                if resp.status_code == 200:
                    mine[name].append(elapsed)
                else:
                    bad[name] += 1
        with lock:
            for name in names:
                latencies[name].extend(mine[name])
                errors[name] += bad[name]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - deadline[1]
    out = {}
    for name, values in latencies.items():
        values.sort()
        out[name] = {"requests": len(values), "errors": errors[name], "rps": len(values) / wall,
                     "p50_ms": 1000 * _percentile(values, 0.50), "p99_ms": 1000 * _percentile(values, 0.99)}
    out["_wall_seconds"] = {"value": wall}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement time (default 5)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--service", choices=("auto", "real", "fake"), default="auto")
    parser.add_argument("--serve-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:
        serve_child(args.service)
        return 0

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    child = subprocess.Popen([sys.executable, __file__, "--serve-child", "--service", args.service],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = child.stdout.readline().strip() if child.stdout else ""
        if not line.startswith("READY "):
            print(f"bench: server failed to start (got {line!r})", file=sys.stderr)
            return 1
        _, port, description = line.split(" ", 2)
        base_url = f"http://{HOST}:{port}"
        print(f"server: {base_url} in a child process, serving {description}")
        print(f"load:   {args.clients} client threads (httpx keep-alive), {args.seconds:g} s, "
              f"alternating snapshot/heatmap on SPY")
        results = hammer(base_url, args.seconds, args.clients)
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    wall = results.pop("_wall_seconds")["value"]
    print(f"\n{'endpoint':<10} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    total = 0
    for name, r in results.items():
        total += r["requests"]
        print(f"{name:<10} {r['requests']:>9d} {r['errors']:>7d} {r['rps']:>8.1f} {r['p50_ms']:>8.2f} "
              f"{r['p99_ms']:>8.2f}")
    print(f"{'total':<10} {total:>9d} {'':>7} {total / wall:>8.1f}   (wall {wall:.2f} s, {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
