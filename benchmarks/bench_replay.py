"""Replay benchmark: simulate a whole SPY day, then time (a) pyarrow just reading the recording and
(b) replaying it through the engine as fast as possible (read + decode + classify + sample).

    python benchmarks/bench_replay.py [--symbol SPY] [--seed 7] [--repeats 3]

Prints events/s, trades/s and the ratio replay / pyarrow-read (target <= 3x).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbol", default="SPY")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--date", default="2026-11-20")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import datetime as dt

    import pyarrow.parquet as pq

    from zdte_tui.commands import write_simulated_day
    from zdte_tui.engine.flow_engine import FlowEngine
    from zdte_tui.market.calendar import session_bounds_ns
    from zdte_tui.market.events import EventBatch
    from zdte_tui.sources.replay import iter_all

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.parquet"
        t = time.perf_counter()
        write_simulated_day(path, [args.symbol], session_date=dt.date.fromisoformat(args.date), seed=args.seed)
        t_sim = time.perf_counter() - t
        rows = pq.ParquetFile(path).metadata.num_rows
        reads, replays = [], []
        n_trades = n_quotes = 0
        for _ in range(args.repeats):
            t = time.perf_counter()
            pq.read_table(path)
            reads.append(time.perf_counter() - t)
            t = time.perf_counter()
            eng = FlowEngine(session_bounds=session_bounds_ns)
            n_trades = n_quotes = 0
            for ev in iter_all(path):
                eng.apply(ev)
                if isinstance(ev, EventBatch):
                    n_trades += len(ev.trades)
                    n_quotes += len(ev.quotes)
            replays.append(time.perf_counter() - t)
            assert eng.malformed_count == 0
        read, replay = min(reads), min(replays)
        print(f"simulate+write {args.symbol} day: {t_sim:.2f} s -> {path.stat().st_size / 1e6:.1f} MB, {rows:,} rows "
              f"({n_trades:,} trades, {n_quotes:,} quotes)")
        print(f"pyarrow read_table: min {read * 1e3:.0f} ms   (all: {', '.join(f'{x * 1e3:.0f}' for x in reads)})")
        all_ms = ", ".join(f"{x * 1e3:.0f}" for x in replays)
        print(f"replay through engine: min {replay * 1e3:.0f} ms   (all: {all_ms})")
        print(f"events/s: {rows / replay:,.0f}   trades/s: {n_trades / replay:,.0f}")
        print(f"ratio replay / read: {replay / read:.2f}x   (target <= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
