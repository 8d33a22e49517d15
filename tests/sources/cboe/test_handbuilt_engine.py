"""A real-layout Cboe chain through the engine: per-strike GEX equals a hand computation.

The hand computation is independent of the engine's vectorized code: for each contract, the
mid of the file's bid/ask, a scalar bisection IV (tests/engine/ref_bs.py) at the time left from the
file's as-of to the 16:00 ET close, the textbook gamma, then
GEX = gamma x OI x 100 x S^2 x 0.01 with calls + and puts - (dealers long calls, short puts)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.engine import ref_bs
from zdte_tui.engine.greeks import SECONDS_PER_YEAR
from zdte_tui.service import FlowService
from zdte_tui.sources.cboe import CboeSnapshotSource, load_cboe_chain

DATA = Path(__file__).parents[2] / "data" / "cboe" / "handbuilt_spy_quotedata.csv"


def test_cboe_chain_exposures_match_a_hand_computation():
    chain = load_cboe_chain(DATA)
    svc = FlowService(CboeSnapshotSource(DATA)).run_to_end()
    snap = svc.snapshot("SPY")
    assert snap["underlying_price"] == pytest.approx(chain.last)
    S = chain.last
    close = dt.datetime.combine(chain.as_of.date(), dt.time(16, 0), tzinfo=chain.as_of.tzinfo)
    t = (close - chain.as_of).total_seconds() / SECONDS_PER_YEAR
    r, q = svc.params.risk_free_rate, svc.params.q_for("SPY")
    expected: dict[float, float] = {}
    same_day = [c for c in chain.contracts if c.expiry == chain.as_of.date()]  # the file also lists later expiries
    assert same_day
    for c in same_day:
        is_call = c.is_call
        mid = 0.5 * (c.bid + c.ask)
        iv = ref_bs.implied_vol_bisection(is_call, mid, S, c.strike, t, r, q)
        gamma = ref_bs.greeks(is_call, S, c.strike, t, r, q, iv)["gamma"]
        sign = 1.0 if is_call else -1.0
        expected[c.strike] = expected.get(c.strike, 0.0) + sign * gamma * c.open_interest * 100 * S * S * 0.01
    got = {row["strike"]: row["net_gex"] for row in snap["strikes"]}
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-4, abs=1.0), k
    assert snap["exposures"]["net_gex"] == pytest.approx(sum(expected.values()), rel=1e-4)
