"""Run every benchmark with its default settings and print their figures.

    python benchmarks/run_all.py [--quick]

Each benchmark is a plain script in this folder and can be run on its own. Issue 17's table: the cost
of one 30 s sample (800 contracts) and the trade-path ingest (1M prints + 1.56M quotes) are rows of
bench_engine.py, with the product's own engine settings; `zdte SPY` to a populated screen (wall and
CPU) is bench_launch_pty.py; replay ratios and peak RSS are bench_replay.py and bench_memory.py.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ("greeks + IV, 1M contracts", ["bench_greeks.py"], ["bench_greeks.py", "--n", "200000"]),
    ("engine ingest / recompute / RSS", ["bench_engine.py"], ["bench_engine.py"]),
    ("simulator", ["bench_sim.py"], ["bench_sim.py"]),
    ("fetch-day conversion, 1M trades", ["bench_fetch_day.py"], ["bench_fetch_day.py", "--trades", "200000"]),
    ("replay: CPU vs a pyarrow read, peak RSS (SPY; four symbols)", ["bench_replay.py"],
     ["bench_replay.py", "--repeats", "1"]),
    ("heatmap render", ["bench_render.py"], ["bench_render.py"]),
    ("launch to populated screen (pty)", ["bench_launch_pty.py"], ["bench_launch_pty.py", "--repeat", "2"]),
    ("HTTP API, 4 clients", ["bench_api.py"], ["bench_api.py", "--seconds", "3"]),
    ("four symbols all day: RSS", ["bench_memory.py"], ["bench_memory.py"]),
    ("one-shot query at --at, day cache (CPU)", ["bench_query.py"], ["bench_query.py"]),
    ("backward seek from a checkpoint (CPU)", ["bench_seek.py"], ["bench_seek.py", "--symbols", "SPY"]),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes where a benchmark allows it")
    args = ap.parse_args()
    failed = 0
    for title, full, quick in BENCHES:
        cmd = quick if args.quick else full
        if not (HERE / cmd[0]).exists():
            print(f"== {title}: {cmd[0]} not present, skipped\n")
            continue
        print(f"== {title}: python benchmarks/{' '.join(cmd)}", flush=True)
        t = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        print(f"   ({time.perf_counter() - t:.1f} s, exit {rc})\n", flush=True)
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
