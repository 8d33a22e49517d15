"""Walls on a Cboe chain file through the whole service: the call wall above spot, the put wall below.

``data/spy_quotedata.csv`` (spot 590.42): both the call and the put GEX peak at 590, so the
unrestricted maxima coincide (the old call wall = put wall = 590 that issue 12 reports); the walls
traders read are the largest call GEX at or above spot and the largest put GEX at or below it."""

from __future__ import annotations

from pathlib import Path

from zdte_tui.service import FlowService
from zdte_tui.sources.cboe import CboeSnapshotSource

DATA = Path(__file__).parent / "data" / "spy_quotedata.csv"


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
