"""How often the words change: a simulated day replayed in 30 s slices, one snapshot after each.

    python benchmarks/label_stability.py [--seed 7] [--date 2025-06-13] [--symbol SPY]

Prints the number of snapshots and, per word (regime, headline trade angle and severity, primary
setup, flow label), how many times it changed from one snapshot to the next. Figures are quoted
in docs/decision-layer.md, "Hysteresis". Seeded: the same arguments print the same numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from zdte_tui.commands import write_simulated_day
    from zdte_tui.market.events import EventBatch
    from zdte_tui.service import FlowService
    from zdte_tui.sources.replay import ReplaySource
    from zdte_tui.store.reader import Recording

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--date", default="2025-06-13")
    ap.add_argument("--symbol", default="SPY")
    ap.add_argument("--transitions", action="store_true", help="also print the most frequent changes")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="zdte-labels-") as tmp:
        path = Path(tmp) / "day.parquet"
        write_simulated_day(path, [args.symbol], session_date=dt.date.fromisoformat(args.date), seed=args.seed,
                            scenario="auto")
        rec = Recording.open(path)
        svc = FlowService(ReplaySource(path, at=None, speed=None, recording=rec))
        changes: Counter = Counter()
        transitions: Counter = Counter()
        last: dict = {}
        n = 0
        for ev in rec.events(None, None, 30):
            svc.apply(ev)
            if not isinstance(ev, EventBatch):
                continue
            snap = svc.snapshot(args.symbol)
            if snap.get("body") is None:
                continue
            n += 1
            cur = {"regime": snap["regime"]["label"], "trade_angle": snap["headline"]["trade_angle"],
                   "severity": snap["headline"]["severity"], "setup": snap["setup"]["primary"]["id"],
                   "flow": snap["flow_direction"]["label"]}
            for k, v in cur.items():
                if k in last and last[k] != v:
                    changes[k] += 1
                    transitions[(k, last[k], v)] += 1
            last = cur
    print(f"{args.symbol} {args.date} seed {args.seed}: {n} snapshots")
    for k in ("regime", "trade_angle", "severity", "setup", "flow"):
        print(f"  {k:<12} {changes[k]:>4} changes")
    if args.transitions:
        for (k, a, b), c in transitions.most_common(12):
            print(f"    {c:>4}  {k}: {a} -> {b}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
