"""Write ``day.npz``: a small, fixed SPY 0DTE session the engine regression test replays.

    python tests/data/engine_regression/make_day.py

Synthetic (no vendor data): 50 strikes x call/put around 600 on 2026-03-16, the whole 09:30-16:00
session. Spot is a random walk with a -2.5 % drop at 12:00 and a recovery from 13:30 (the gamma
flip must leave any small bracket around its last level), mids are Black-Scholes on a smile, prices
in cents. Several far contracts are never quoted (their IV comes from the smile), one is quoted
bid 0. Batches have irregular lengths (7 s to 10 min) so some cross no 30 s boundary and some
cross twenty. The file is committed; this script documents how it was made (seed 17).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from zdte_tui.engine.greeks import bs_price, years_to_expiry
from zdte_tui.market.calendar import session_bounds_ns

DAY = date(2026, 3, 16)
NS = 1_000_000_000
HERE = Path(__file__).resolve().parent


def make(seed: int = 17) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    open_ns, close_ns = session_bounds_ns(DAY)
    k = 575.0 + np.arange(50)
    strikes = np.r_[k, k]
    is_call = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    settled = (rng.gamma(1.5, 1.0, 100) * 3000 * np.exp(-np.abs(strikes - 600.0) / 12)).astype(np.int64)
    never_quoted = np.array([0, 1, 49, 50, 98, 99])

    seconds = (close_ns - open_ns) // NS
    t_s = np.arange(-60, seconds + 1)  # one spot print a second, from a minute before the bell
    steps = rng.normal(0.0, 0.025, len(t_s))
    steps[t_s == 9000] -= 15.0                                          # 12:00 drop
    steps[(t_s > 14400) & (t_s <= 15600)] += 13.0 / 1200                # 13:30-13:50 recovery
    spot = 600.0 + np.cumsum(steps)
    spot_ts = open_ns + t_s * NS

    q_ts, q_c, q_b, q_a, t_ts, t_c, t_px, t_sz = ([] for _ in range(8))
    quotable = np.setdiff1d(np.arange(100), never_quoted)
    for a in range(-60, seconds, 30):  # 30 s of events at a time
        s = float(spot[a + 60 + 29])
        t = years_to_expiry(open_ns + (a + 30) * NS, close_ns)
        w = np.exp(-np.abs(strikes[quotable] - s) / 5.0)
        w /= w.sum()
        smile = 0.13 + 1.2 * np.abs(np.log(strikes / s)) + 0.01 * (a / seconds)
        value = bs_price(is_call, s, strikes, t, 0.045, 0.012, smile)
        n_q = 60 if a < 0 else 40
        qc = quotable[rng.choice(len(quotable), n_q, p=w)]
        half = np.maximum(0.01, 0.03 * value[qc])
        bid = np.round(np.maximum(value[qc] - half, 0.0), 2)
        ask = np.round(np.maximum(value[qc] + half, 0.01), 2)
        bid[qc == 20] = 0.0  # one contract quoted bid 0 (mid = ask / 2)
        q_ts.append(np.sort(rng.integers(open_ns + a * NS + 1, open_ns + (a + 30) * NS + 1, n_q)))
        q_c.append(qc)
        q_b.append(bid)
        q_a.append(ask)
        if a >= 0:
            n_t = 15
            tc = quotable[rng.choice(len(quotable), n_t, p=w)]
            where = rng.choice(4, n_t, p=[0.4, 0.35, 0.2, 0.05])
            hv = np.maximum(0.01, 0.03 * value[tc])
            px = np.choose(where, [value[tc] + hv, np.maximum(value[tc] - hv, 0.0), value[tc], value[tc] + 2 * hv])
            t_ts.append(np.sort(rng.integers(open_ns + a * NS + 1, open_ns + (a + 30) * NS + 1, n_t)))
            t_c.append(tc)
            t_px.append(np.round(px, 2))
            t_sz.append(np.minimum(rng.geometric(0.1, n_t), 2000))

    cuts = [open_ns - 60 * NS]
    lengths = np.array([7, 30, 30, 45, 120, 30, 600, 13, 30, 300])
    while cuts[-1] < close_ns:
        cuts.append(min(close_ns, cuts[-1] + int(rng.choice(lengths)) * NS))
    return {
        "strikes": strikes, "is_call": is_call, "settled_oi": settled,
        "spot_ts": spot_ts, "spot_px": np.round(spot, 2),
        "quote_ts": np.concatenate(q_ts), "quote_contract": np.concatenate(q_c).astype(np.int32),
        "quote_bid": np.concatenate(q_b), "quote_ask": np.concatenate(q_a),
        "trade_ts": np.concatenate(t_ts), "trade_contract": np.concatenate(t_c).astype(np.int32),
        "trade_price": np.concatenate(t_px), "trade_size": np.concatenate(t_sz).astype(np.int32),
        "batch_cuts": np.asarray(cuts, dtype=np.int64),
    }


if __name__ == "__main__":
    np.savez_compressed(HERE / "day.npz", **make())
    print("wrote", HERE / "day.npz")
