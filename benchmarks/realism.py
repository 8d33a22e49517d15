"""Simulator vs real 0DTE days, statistic by statistic (docs/simulator.md, "Realism targets").

    python benchmarks/realism.py [--symbols SPX,SPY,QQQ,IWM] [--spot-days 200] [--flow-days 12]

For each symbol: ``--spot-days`` simulated spot paths (``simulate_spot``, seeds 1000+i, ``auto``
scenarios, trading days of 2026) for the range/shape and settled-OI statistics and ``--flow-days`` full
simulated sessions (seeds 2000+i) for the volume statistics; prints the median over days next to the real value
and the documented band. The real values are recomputed from tests/data/sim_targets (S&P 500 bars,
SPXW 0DTE snapshots). QQQ and IWM are held to the same shape bands; their range is compared with
the S&P 500 band scaled by the profile's vol_scale (an assumption: no real QQQ/IWM bars are kept).
Deterministic: the same arguments print the same table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np

from zdte_tui.market.calendar import trading_days
from zdte_tui.sources.sim_model import simulate_session, simulate_spot, symbol_profile
from zdte_tui.sources.sim_realism import (
    TARGETS,
    load_cboe_chains,
    load_real,
    real_quote_and_volume_stats,
    simulated_flow_stats,
    simulated_quote_and_print_stats,
    spot_stats,
    summarize_flow,
    summarize_quotes,
    summarize_spot,
)

DATA = ROOT / "tests" / "data" / "sim_targets"
SPOT_SEED_BASE, FLOW_SEED_BASE = 1000, 2000
SCALED = {"range_median_pct", "range_p10_pct", "range_p90_pct"}


def days_of(n: int) -> list[dt.date]:
    days = trading_days(dt.date(2026, 1, 2), dt.date(2026, 11, 30))
    return [days[(7 * i) % len(days)] for i in range(n)]


def measure(symbol: str, n_spot: int, n_flow: int) -> tuple[dict, dict]:
    spot_days, scen = [], {}
    for i, day in enumerate(days_of(n_spot)):
        chain, spot, info = simulate_spot(symbol, day, SPOT_SEED_BASE + i)
        spot_days.append(spot_stats(spot, chain))
        scen[info["scenario"]] = scen.get(info["scenario"], 0) + 1
    out = summarize_spot(spot_days)
    if n_flow:
        flows, quotes = [], []
        for i, day in enumerate(days_of(n_flow)):
            session = simulate_session(symbol, day, FLOW_SEED_BASE + i)
            flows.append(simulated_flow_stats(session))
            quotes.append(simulated_quote_and_print_stats(session))
            del session
        out.update(summarize_flow(flows))
        out.update(summarize_quotes(quotes))
    return out, scen


def band(target, symbol: str) -> tuple[float, float]:
    scale = symbol_profile(symbol).vol_scale if target.name in SCALED else 1.0
    return target.lo * scale, target.hi * scale


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbols", default="SPX,SPY,QQQ,IWM")
    ap.add_argument("--spot-days", type=int, default=200)
    ap.add_argument("--flow-days", type=int, default=12)
    args = ap.parse_args()
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    real = load_real(DATA)
    rr = real["range"] * 100
    print(f"zdte realism benchmark (python benchmarks/realism.py {' '.join(sys.argv[1:])})\n")
    print(f"Real: {len(rr)} S&P 500 sessions {real['daily_dates'][0]}..{real['daily_dates'][1]}: range median "
          f"{np.median(rr):.3f} %, p10-p90 {np.percentile(rr, 10):.3f}-{np.percentile(rr, 90):.3f} %; "
          f"SPXW 0DTE chain days {', '.join(real['chain_days'])}.\n")
    results = {}
    for sym in symbols:
        t0 = time.perf_counter()
        results[sym], scen = measure(sym, args.spot_days, args.flow_days)
        print(f"{sym}: {args.spot_days} spot days + {args.flow_days} sessions in {time.perf_counter() - t0:.0f} s; "
              "scenarios " + ", ".join(f"{k} {v}" for k, v in sorted(scen.items())))
    print()
    print("| statistic | real | band | " + " | ".join(symbols) + " |")
    print("|---|---|---|" + "---|" * len(symbols))
    outside = 0
    for tg in TARGETS:
        cells = []
        for sym in symbols:
            v = results[sym].get(tg.name)
            if v is None or not np.isfinite(v):
                cells.append("-")
                continue
            if not tg.applies_to(sym):  # the real data is about other symbols: shown, not judged
                cells.append(f"({v:.3f})")
                continue
            lo, hi = band(tg, sym)
            ok = lo <= v <= hi
            outside += not ok
            cells.append(f"{v:.3f}" + ("" if ok else " **out**"))
        lo, hi = band(tg, "SPX")
        print(f"| {tg.name} | {tg.real} | {lo:g}-{hi:g} | " + " | ".join(cells) + " |")
    print("\n(x): not judged: the real data of that row is about other symbols.")
    if args.flow_days:
        print("\n0DTE contracts a day (median of the sessions): " + ", ".join(
            f"{sym} {results[sym]['contracts'] / 1e6:.2f} M" for sym in symbols if "contracts" in results[sym]))
        real_days = real_quote_and_volume_stats(load_cboe_chains(DATA / "cboe_0dte_chains.csv.gz"))
        print("Real whole days (Cboe downloads after the close): " + ", ".join(
            f"{k.split('_')[0].upper()} {v['contracts'] / 1e6:.2f} M on {k.split('_')[1]}"
            for k, v in real_days.items() if "contracts" in v))
    print()
    print("Sources of the real values:")
    for src in dict.fromkeys(t.source for t in TARGETS):
        print(f"- {src}")
    print(f"\n{outside} value(s) outside their band.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
