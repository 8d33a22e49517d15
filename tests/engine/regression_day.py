"""Replay the fixed regression day (tests/data/engine_regression/day.npz) through a FlowEngine and
collect what the engine reports: every 30 s sample (series, per-strike matrices, per-contract IV),
the trade log's valuation of each print, and point-in-time states during the day.

``python tests/engine/regression_day.py`` rewrites golden.npz from the engine in this checkout: run it
only on the engine whose outputs are the reference (see tests/data/engine_regression/README.md).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from zdte_tui.engine.flow_engine import FlowEngine
from zdte_tui.engine.params import EngineParams
from zdte_tui.engine.sampler import SERIES_FIELDS, STRIKE_METRICS
from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.market.events import ChainDefinition, EventBatch, OptionQuotes, OptionTrades, SpotTicks

DATA = Path(__file__).resolve().parents[1] / "data" / "engine_regression"
DAY = date(2026, 3, 16)
STATE_EVERY = 25  # a point-in-time state after every 25th batch
SLOT_EVERY = 5    # per-strike matrices and per-contract IV kept for every 5th 30 s slot
STATE_FIELDS = ("iv", "delta", "gamma", "call_gex", "put_gex", "call_dex", "put_dex", "strike_vex",
                "strike_chex", "effective_oi", "position")
STATE_SCALARS = ("net_gex", "net_dex", "net_vex", "net_chex", "gamma_flip", "atm_iv", "max_pain",
                 "hedge_flow_call_cumulative", "hedge_flow_put_cumulative")
LOG_FIELDS = ("delta", "gamma", "side", "aggressor", "group")


def load_day() -> tuple[ChainDefinition, list[EventBatch]]:
    with np.load(DATA / "day.npz") as z:
        d = {k: z[k] for k in z.files}
    chain = ChainDefinition("SPY", DAY, d["strikes"], d["is_call"], d["settled_oi"])
    cuts = d["batch_cuts"]

    def part(ts: np.ndarray, a: int, b: int) -> slice:
        return slice(int(np.searchsorted(ts, a, side="right")), int(np.searchsorted(ts, b, side="right")))

    batches = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        s, q, t = part(d["spot_ts"], a, b), part(d["quote_ts"], a, b), part(d["trade_ts"], a, b)
        batches.append(EventBatch(
            "SPY", int(a), int(b),
            spot=SpotTicks(ts_ns=d["spot_ts"][s], price=d["spot_px"][s]),
            quotes=OptionQuotes(ts_ns=d["quote_ts"][q], contract=d["quote_contract"][q], bid=d["quote_bid"][q],
                                ask=d["quote_ask"][q], bid_size=np.full(q.stop - q.start, 10),
                                ask_size=np.full(q.stop - q.start, 10)),
            trades=OptionTrades(ts_ns=d["trade_ts"][t], contract=d["trade_contract"][t], price=d["trade_price"][t],
                                size=d["trade_size"][t], exchange=np.zeros(t.stop - t.start, dtype=np.int16))))
    return chain, batches


def replay_engine(params: EngineParams | None = None) -> tuple[FlowEngine, list]:
    """The engine after the regression day (its trade log with the audit columns: each print's
    delta and gamma), and a point-in-time state after every ``STATE_EVERY``-th batch."""
    chain, batches = load_day()
    engine = FlowEngine(params, session_bounds=session_bounds_ns, audit_prints=True)
    engine.apply(chain)
    states = []
    for i, batch in enumerate(batches):
        engine.apply(batch)
        if i % STATE_EVERY == STATE_EVERY - 1 or i == len(batches) - 1:
            states.append(engine.state("SPY"))
    assert engine.malformed_count == 0, engine.malformed_by_reason
    return engine, states


def replay(params: EngineParams | None = None) -> dict[str, np.ndarray]:
    """The engine's outputs on the regression day, as named arrays."""
    engine, states = replay_engine(params)
    book = engine.books["SPY"]
    smp = book.sampler
    out: dict[str, np.ndarray] = {"filled": smp.filled.copy(), "iv": smp.iv[::SLOT_EVERY].copy()}
    out.update({f"series_{f}": smp.series[f].copy() for f in SERIES_FIELDS})
    out.update({f"strike_{m}": smp.strike[m][::SLOT_EVERY].copy() for m in STRIKE_METRICS})
    out.update({f"log_{f}": book.log.view(f).copy() for f in LOG_FIELDS})
    out.update({f"state_{f}": np.stack([getattr(s, f) for s in states]) for f in STATE_FIELDS})
    out.update({f"state_{f}": np.array([np.nan if getattr(s, f) is None else getattr(s, f) for s in states],
                                       dtype=np.float64) for f in STATE_SCALARS})
    out["state_call_wall"] = np.array([np.nan if s.walls.call_wall is None else s.walls.call_wall for s in states])
    out["state_put_wall"] = np.array([np.nan if s.walls.put_wall is None else s.walls.put_wall for s in states])
    out["state_as_of_ns"] = np.array([s.as_of_ns for s in states], dtype=np.int64)
    return out


if __name__ == "__main__":
    np.savez_compressed(DATA / "golden.npz", **replay())
    print("wrote", DATA / "golden.npz")
