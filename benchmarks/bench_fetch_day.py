"""fetch-day's conversion at real scale: the downloaded parts of one SPY 0DTE session turned into
a recording (no network: the parts are generated), CPU seconds and peak RSS.

    python benchmarks/bench_fetch_day.py [--trades 1000000] [--contracts 800]

ThetaData path: ``trade_quote`` (each trade with its NBBO), 1-minute quotes for every contract,
OI, the underlying each second -> ``ThetaDataFetch._assemble`` + ``write_day``. Massive path:
``reduce_quotes`` on one at-the-money contract's full quote history (``--quotes`` updates).
CPU time (``time.process_time``), not wall time: the machine is shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zdte_tui.market.calendar import session_bounds_ns  # noqa: E402
from zdte_tui.sources.fetch.common import PartDir, save_arrays, write_day  # noqa: E402
from zdte_tui.sources.fetch.massive import reduce_quotes  # noqa: E402
from zdte_tui.sources.fetch.thetadata import ThetaDataFetch  # noqa: E402
from zdte_tui.sources.thetadata.config import ThetaDataConfig  # noqa: E402

DAY = dt.date(2025, 2, 20)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trades", type=int, default=1_000_000)
    ap.add_argument("--contracts", type=int, default=800)
    ap.add_argument("--quotes", type=int, default=2_000_000, help="quote updates of one contract (Massive)")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    open_ns, close_ns = session_bounds_ns(DAY)
    n_strikes = args.contracts // 2
    strikes = (610_000 + (np.arange(n_strikes) - n_strikes // 2) * 1000).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "spy.parquet"
        f = ThetaDataFetch("SPY", DAY, config=ThetaDataConfig())
        parts = PartDir(out, f.identity())
        n = args.trades
        k = rng.integers(0, n_strikes, n)
        ts = np.sort(rng.integers(open_ns + 1, close_ns, n))
        save_arrays(parts, "trade_quote.npz", strike=strikes[k], call=rng.random(n) < 0.5, ts=ts, q_ts=ts - 40_000_000,
                    price=rng.uniform(0.05, 5, n), size=rng.integers(1, 50, n), exchange=rng.integers(1, 70, n),
                    bid=rng.uniform(0.05, 5, n), ask=rng.uniform(0.05, 5, n), bid_size=rng.integers(1, 99, n),
                    ask_size=rng.integers(1, 99, n))
        minutes = open_ns + np.arange(390, dtype=np.int64) * 60_000_000_000
        m = n_strikes * 2 * 390
        save_arrays(parts, "quotes.npz", strike=np.repeat(strikes, 2 * 390), call=np.tile(np.repeat([True, False], 390),
                                                                                        n_strikes),
                    ts=np.tile(minutes, n_strikes * 2), bid=np.full(m, 1.0), ask=np.full(m, 1.1),
                    bid_size=np.full(m, 10), ask_size=np.full(m, 10))
        save_arrays(parts, "open_interest.npz", strike=np.repeat(strikes, 2), call=np.tile([True, False], n_strikes),
                    oi=rng.integers(0, 20_000, n_strikes * 2))
        secs = open_ns + np.arange(23_400, dtype=np.int64) * 1_000_000_000
        save_arrays(parts, "underlying.npz", ts=secs, price=610 + np.cumsum(rng.normal(0, 0.02, 23_400)))
        rss0 = peak_rss_mb()
        t0 = time.process_time()
        day = f._assemble(parts, [], open_ns, close_ns)
        t1 = time.process_time()
        summary = write_day(out, "thetadata", day)
        t2 = time.process_time()
        rows = summary.trades + summary.quotes + summary.spot_ticks
        print(f"thetadata conversion: {summary.contracts} contracts, {summary.trades:,} trades, "
              f"{summary.quotes:,} quotes, {summary.spot_ticks:,} spot")
        print(f"  assemble {t1 - t0:.2f} s CPU, write recording {t2 - t1:.2f} s CPU: "
              f"{rows / (t2 - t0) / 1e6:.2f} M rows/s")
        print(f"  peak RSS {peak_rss_mb():.0f} MB (before: {rss0:.0f} MB); file {out.stat().st_size / 1e6:.1f} MB")
    q = np.sort(rng.integers(open_ns, close_ns, args.quotes))
    trades = np.sort(rng.integers(open_ns, close_ns, args.quotes // 100))
    t0 = time.process_time()
    keep = reduce_quotes(q, trades)
    t1 = time.process_time()
    print(f"massive reduce_quotes: {args.quotes:,} quotes, {len(trades):,} trades -> {len(keep):,} kept in "
          f"{(t1 - t0) * 1000:.0f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
