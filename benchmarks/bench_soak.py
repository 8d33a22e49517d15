"""Soak `zdte serve`: many keep-alive clients for minutes; req/s, p99 and server RSS over time.

    python benchmarks/bench_soak.py [--seconds 600] [--clients 50] [--interval 15]

Starts the real CLI, ``python -m zdte_tui.cli serve --symbols SPY,QQQ`` (the simulator, playing
at 1x from the configured start), on a free 127.0.0.1 port in a child process with one Alpha key
per client (``ZDTE_API_KEYS``), so every client has its own rate-limit bucket at the default
600/minute. ``--clients`` threads, each with its own ``httpx.Client``, cycle through snapshot,
series, hedge-flow, heatmap, strike-flow, signals, leaderboard, status and the Skylit heatmap on
SPY and QQQ until ``--seconds`` have passed. Every ``--interval`` seconds the table gets a row:
requests, req/s, p50/p99 latency and non-200 answers in that interval, and the server's resident
memory (``VmRSS`` from ``/proc/<pid>/status``). The last lines compare RSS growth in the first and
second half of the run: RSS that levels off grows much less in the second half.

All traffic is on 127.0.0.1; the run ends after ``--seconds`` (default 600 = 10 minutes).
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
HOST = "127.0.0.1"
PATHS = [
    "/v1/flow/zero-dte/snapshot/{s}",
    "/v1/flow/zero-dte/series/{s}?bar=1m&minutes=60",
    "/v1/flow/zero-dte/hedge-flow/{s}?bar=5m&minutes=120",
    "/v1/flow/zero-dte/heatmap/{s}?metric=gex&minutes=60",
    "/v1/flow/zero-dte/strike-flow/{s}?minutes=30",
    "/v1/flow/signals/{s}?windowMinutes=60&limit=20",
    "/v1/flow/zero-dte/leaderboard?metric=heat",
    "/v1/zdte/status",
    "/v1/heatmap?symbols={s}&metric=gamma",
]
SYMBOLS = ("SPY", "QQQ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


class Tally:
    """Latencies and non-200 answers since the last :meth:`take` (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.bad: dict[str, int] = {}

    def add(self, seconds: float, status: int | str) -> None:
        with self.lock:
            if status == 200:
                self.latencies.append(seconds)
            else:
                self.bad[str(status)] = self.bad.get(str(status), 0) + 1

    def take(self) -> tuple[list[float], dict[str, int]]:
        with self.lock:
            out = self.latencies, self.bad
            self.latencies, self.bad = [], {}
        return out


def wait_healthy(base_url: str, child: subprocess.Popen, timeout_s: float = 300.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"zdte serve exited with {child.returncode}")
        try:
            if httpx.get(f"{base_url}/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"zdte serve did not answer within {timeout_s:g} s")


def client(index: int, base_url: str, key: str, stop: threading.Event, tally: Tally) -> None:
    import httpx

    with httpx.Client(base_url=base_url, headers={"X-Api-Key": key}, timeout=30.0) as http:
        i = index
        while not stop.is_set():
            path = PATHS[i % len(PATHS)].format(s=SYMBOLS[(i // len(PATHS)) % len(SYMBOLS)])
            i += 1
            t0 = time.perf_counter()
            try:
                status: int | str = http.get(path).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            tally.add(time.perf_counter() - t0, status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="soak time (default 600 = 10 min)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent keep-alive clients (default 50)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds per table row (default 15)")
    args = parser.parse_args(argv)

    port = _free_port()
    keys = [f"soak-{i}" for i in range(args.clients)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               ZDTE_API_KEYS=",".join(f"{k}:alpha" for k in keys))
    cmd = [sys.executable, "-m", "zdte_tui.cli", "serve", "--host", HOST, "--port", str(port),
           "--symbols", ",".join(SYMBOLS)]
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base_url = f"http://{HOST}:{port}"
    stop = threading.Event()
    rows: list[tuple[float, int, float, float, float, dict[str, int], float | None]] = []
    try:
        wait_healthy(base_url, child)
        print(f"server: `zdte serve --symbols {','.join(SYMBOLS)}` pid {child.pid} at {base_url}; "
              f"RSS at start {rss_mb(child.pid):.0f} MB")
        print(f"load:   {args.clients} keep-alive clients, {len(PATHS)} endpoints x {len(SYMBOLS)} symbols, "
              f"{args.seconds:g} s, a row every {args.interval:g} s ({os.cpu_count()} CPUs)")
        tally = Tally()
        threads = [threading.Thread(target=client, args=(i, base_url, keys[i], stop, tally), daemon=True)
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        t_start = time.monotonic()
        print(f"\n{'t s':>6} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>7}  non-200")
        next_row = t_start + args.interval
        while True:
            now = time.monotonic()
            end = t_start + args.seconds
            time.sleep(max(0.0, min(next_row, end) - now))
            now = time.monotonic()
            lat, bad = tally.take()
            span = now - (rows[-1][0] + t_start if rows else t_start)
            rss = rss_mb(child.pid)
            row = (now - t_start, len(lat), len(lat) / span if span > 0 else 0.0, 1000 * _percentile(lat, 0.5),
                   1000 * _percentile(lat, 0.99), bad, rss)
            rows.append(row)
            print(f"{row[0]:>6.0f} {row[1]:>9d} {row[2]:>7.1f} {row[3]:>8.1f} {row[4]:>8.1f} "
                  f"{(rss or float('nan')):>7.0f}  {bad or ''}", flush=True)
            if child.poll() is not None:
                print(f"server exited with {child.returncode}", file=sys.stderr)
                return 1
            if now >= end:
                break
            next_row += args.interval
    finally:
        stop.set()
        child.terminate()
        try:
            _, err = child.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            _, err = child.communicate()
        lines = [ln for ln in (err or "").splitlines() if ln.strip()]
        print(f"server stderr: {len(lines)} line(s)" + (f"; last: {lines[-1][:160]}" if lines else ""))
    rss = [r[6] for r in rows if r[6] is not None]
    if len(rss) >= 4:
        half = len(rss) // 2
        first, second = rss[half] - rss[0], rss[-1] - rss[half]
        total_req = sum(r[1] for r in rows)
        print(f"\nrequests: {total_req} in {rows[-1][0]:.0f} s ({total_req / rows[-1][0]:.1f} req/s)")
        print(f"RSS: {rss[0]:.0f} -> {rss[half]:.0f} -> {rss[-1]:.0f} MB; growth first half {first:+.0f} MB, "
              f"second half {second:+.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
