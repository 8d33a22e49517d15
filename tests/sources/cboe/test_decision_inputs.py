"""Decision inputs from a Cboe chain file through the whole service: walls on their side of spot, and
the next expiry's ATM IV for vol_context.

``tests/data/cboe/handbuilt_spy_quotedata.csv`` (spot 590.42): both the call and the put GEX peak at 590, so the
unrestricted maxima coincide (the old call wall = put wall = 590 that issue 12 reports); the walls
traders read are the largest call GEX at or above spot and the largest put GEX at or below it."""

from __future__ import annotations

from pathlib import Path

from zdte_tui.service import FlowService
from zdte_tui.sources.cboe import CboeSnapshotSource

DATA = Path(__file__).resolve().parents[2] / "data" / "cboe" / "handbuilt_spy_quotedata.csv"


def test_cboe_chain_walls_are_on_their_side_of_spot_and_the_maxima_stay_available():
    snap = FlowService(CboeSnapshotSource(DATA)).run_to_end().snapshot("SPY")
    spot, levels = snap["underlying_price"], snap["levels"]
    rows = snap["strikes"]
    assert levels["call_wall"] != levels["put_wall"]
    assert levels["call_wall"] >= spot >= levels["put_wall"]
    above = [r for r in rows if r["strike"] >= spot]
    below = [r for r in rows if r["strike"] <= spot]
    assert levels["call_wall"] == max(above, key=lambda r: (abs(r["call_gex"]), -r["strike"]))["strike"]
    assert levels["put_wall"] == max(below, key=lambda r: (abs(r["put_gex"]), r["strike"]))["strike"]
    # the unrestricted maxima are their own fields (both 590 on this chain)
    assert levels["max_call_gex_strike"] == max(rows, key=lambda r: abs(r["call_gex"]))["strike"] == 590.0
    assert levels["max_put_gex_strike"] == max(rows, key=lambda r: abs(r["put_gex"]))["strike"] == 590.0


def test_cboe_chain_feeds_the_next_expiry_atm_iv_from_its_own_iv_column():
    import datetime as dt

    src = CboeSnapshotSource(DATA)
    spot = src.spot.spot
    later = [c for c in src.chain.contracts if c.expiry == dt.date(2026, 6, 8)]   # the only later expiry listed
    nearest = min({c.strike for c in later}, key=lambda k: (abs(k - spot), k))
    expected = sum(c.iv for c in later if c.strike == nearest) / 2
    vc = FlowService(src).run_to_end().snapshot("SPY")["vol_context"]
    assert vc["seven_dte_expiration"] == "2026-06-08"
    assert vc["seven_dte_atm_iv"] == round(expected, 4)
    assert vc["iv_ratio_0dte_7dte"] == round(vc["zero_dte_atm_iv"] / expected, 3)
