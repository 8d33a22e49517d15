"""Four symbols tracked all day: peak RSS of one process that plays SPY, QQQ, IWM and SPX through
a whole simulated session (as fast as possible, the FlowService + engine + sampler + trade logs)
and answers a snapshot, a 390-minute series and heatmap for each at the close.

    python benchmarks/bench_memory.py [--symbols SPY,QQQ,IWM,SPX]

Target: <= 300 MB. Reports the RSS while tracking (at the close) and the process peak.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", default="SPY,QQQ,IWM,SPX")
    ap.add_argument("--date", default="2026-11-20")
    args = ap.parse_args()
    import datetime as dt

    from zdte_tui.service import FlowService
    from zdte_tui.sources.sim import SimSource

    symbols = args.symbols.split(",")
    t = time.perf_counter()
    src = SimSource(symbols, session_date=dt.date.fromisoformat(args.date), seed=7, at=None, speed=None)
    svc = FlowService(src).run_to_end()
    for s in symbols:
        svc.snapshot(s)
        svc.series(s, "30s", 390)
        svc.heatmap(s, "gex", "raw", "1m", 390)
        svc.signals(s, limit=500)
    elapsed = time.perf_counter() - t
    trades = sum(svc.engine.books[s].log.appended for s in symbols)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open("/proc/self/status") as f:
        now_mb = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS"))
    print(f"{len(symbols)} symbols ({', '.join(symbols)}), whole day, {trades:,} prints: played in {elapsed:.1f} s")
    print(f"RSS at the close {now_mb:.0f} MB, peak RSS {peak_mb:.0f} MB (the peak is the simulator generating "
          f"SPX's day at start-up)   (target <= 300 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
