"""One-shot CLI query benchmark: CPU seconds (user + sys of the child process) of
``zdte snapshot SYMBOL --at T`` and ``zdte signals SYMBOL --at T`` on the simulator,

1. ``--no-cache``: the simulator plays the morning up to T (what every query does without the cache),
2. cold cache: the same, plus the engine state at T written to the cache,
3. warm cache, same T: the engine state at T is read back (no simulation, no ingestion),
4. a new T2 after T: ``--no-cache`` (the morning played up to T2), then through the cache, which
   resumes from the newest cached state on the :00/:30 grid at or before T2 (the state at T, or an
   hourly checkpoint passed on the way) and ingests only the rest.

    python benchmarks/bench_query.py [--symbol SPY] [--date 2026-11-20] [--at 12:00] [--then 13:00]

Runs in a temporary ``XDG_CACHE_HOME``; all figures in one run, so they compare on a loaded box.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_of(argv: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "zdte_tui.cli", *argv], env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"zdte {' '.join(argv)} failed: {done.stderr.strip()}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbol", default="SPY")
    ap.add_argument("--date", default="2026-11-20")
    ap.add_argument("--at", default="12:00")
    ap.add_argument("--then", default="13:00")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": tmp, "PYTHONPATH": str(ROOT)}
        day = ["--date", args.date]
        at = ["snapshot", args.symbol, "--at", args.at, *day]
        rows = [
            ("snapshot, --no-cache (plays the morning)", [*at, "--no-cache"]),
            ("snapshot, cold cache (plays the morning, caches the state)", at),
            ("snapshot, warm cache, same --at", at),
            ("signals, warm cache, same --at", ["signals", args.symbol, "--at", args.at, *day]),
            (f"signals, --at {args.then}, --no-cache", ["signals", args.symbol, "--at", args.then, *day, "--no-cache"]),
            (f"signals, --at {args.then} after --at {args.at} (new --at, cached)",
             ["signals", args.symbol, "--at", args.then, *day]),
            ("python -c 'import zdte_tui.service.queries' (import floor)", None),
        ]
        # the exchange calendar is cached under XDG_CACHE_HOME too: build it first, outside the figures
        warm = ("import datetime; from zdte_tui.market import calendar; "
                f"calendar.session_bounds_ns(datetime.date.fromisoformat({args.date!r}))")
        subprocess.run([sys.executable, "-c", warm], env=env, check=True)
        print(f"zdte {args.symbol} --date {args.date} (CPU seconds of the process)")
        for label, argv in rows:
            if argv is None:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([sys.executable, "-c", "import zdte_tui.service.queries"], env=env, check=True)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            else:
                cpu = cpu_of(argv, env)
            print(f"  {label:<66} {cpu:5.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
