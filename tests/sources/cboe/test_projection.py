"""A projected snapshot: vols implied at the quotes' time, greeks at the projected time; the GEX profile.

Judge: for each contract of a real evening download (tests/data/cboe/spy_2025-05-16_1923.csv,
saved Friday 19:23 ET), a scalar bisection IV from the mid with the time left from the quotes'
time (Friday 16:00) to Monday's 16:00 close, then the textbook gamma with that IV and the time
left from Monday's 09:30 open; GEX = gamma x OI x 100 x S^2 x 0.01, calls +, puts -."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from tests.engine import ref_bs
from zdte_tui.market import calendar
from zdte_tui.market.calendar import ET
from zdte_tui.service import FlowService
from zdte_tui.sources.cboe import CboeSnapshotSource

DATA = Path(__file__).parents[2] / "data" / "cboe" / "spy_2025-05-16_1923.csv"
YEAR = 365 * 86400


@pytest.fixture(scope="module")
def projected():
    src = CboeSnapshotSource(DATA)
    svc = FlowService(src).run_to_end()
    return src, svc, svc.snapshot("SPY")


def test_plan_of_a_friday_evening_file(projected):
    src, _, snap = projected
    assert src.plan.quote_time == datetime(2025, 5, 16, 16, 0, tzinfo=ET)
    assert src.plan.valuation_time == datetime(2025, 5, 19, 9, 30, tzinfo=ET)
    assert snap["as_of"] == "2025-05-19T13:30:00Z" and snap["expiration"] == "2025-05-19"
    label = "DELAYED SNAPSHOT of 2025-05-16 19:23 ET - projected to the 2025-05-19 open"
    assert snap["metadata"]["source_label"] == label


def test_projected_gex_matches_iv_at_quote_time_and_gamma_at_the_open(projected):
    src, svc, snap = projected
    S = src.spot.spot
    close = calendar.session_bounds(src.expiry)[1]
    t_iv = (close - src.plan.quote_time).total_seconds() / YEAR    # 3 days
    t = (close - src.plan.valuation_time).total_seconds() / YEAR    # 6.5 hours
    r, q = svc.params.risk_free_rate, svc.params.q_for("SPY")
    expected: dict[float, float] = {}
    unpriced = set()
    for c in src.rows:
        iv = math.nan
        if c.bid > 0 and c.ask >= c.bid:
            iv = ref_bs.implied_vol_bisection(c.is_call, 0.5 * (c.bid + c.ask), S, c.strike, t_iv, r, q)
        if not math.isfinite(iv):
            unpriced.add(c.strike)
            continue
        g = ref_bs.greeks(c.is_call, S, c.strike, t, r, q, iv)["gamma"]
        gex = (1 if c.is_call else -1) * g * c.open_interest * 100 * S * S * 0.01
        expected[c.strike] = expected.get(c.strike, 0.0) + gex
    got = {row["strike"]: row["net_gex"] for row in snap["strikes"]}
    checked = [k for k in expected if k not in unpriced]
    assert len(checked) >= 20
    for k in checked:
        assert got[k] == pytest.approx(expected[k], rel=1e-3, abs=1.0), k


def test_projection_raises_gamma_near_the_money(projected):
    """Same vols, 6.5 h instead of 3 days: ATM gamma grows ~ sqrt(72 / 6.5) ~ 3.3x."""
    src, _, snap = projected
    S = src.spot.spot
    atm = min(src.rows, key=lambda c: abs(c.strike - S) + (0 if c.is_call else 1e-9))
    assert atm.gamma > 0  # Cboe's own column, valued at the quotes' time
    k = next(row for row in snap["strikes"] if row["strike"] == atm.strike)
    ratio = abs(k["call_gex"]) / (atm.gamma * atm.open_interest * 100 * S * S * 0.01)
    assert 2.5 < ratio < 4.0


def test_gex_profile_crosses_zero_at_the_flip_and_equals_net_gex_at_spot(projected):
    _, _, snap = projected
    prof = snap["gex_profile"]
    spots, net = np.array(prof["spots"]), np.array(prof["net_gex"])
    assert prof["spot"] == snap["underlying_price"] and prof["gamma_flip"] == snap["levels"]["gamma_flip"]
    assert prof["call_wall"] == snap["levels"]["call_wall"] and prof["put_wall"] == snap["levels"]["put_wall"]
    mid = len(spots) // 2
    assert spots[mid] == pytest.approx(snap["underlying_price"])
    assert net[mid] == pytest.approx(snap["exposures"]["net_gex"], rel=1e-6)
    flip = prof["gamma_flip"]
    i = int(np.searchsorted(spots, flip))
    assert np.sign(net[i - 1]) != np.sign(net[i])  # the curve changes sign around the flip


def test_a_later_expiry_is_valued_in_the_next_session_with_time_to_its_own_close():
    """spy_2025-09-25_2105.csv (Thursday 21:05) lists no 2025-09-26 expiry: the 2025-10-01 one is
    valued at Friday's open (not 0DTE), IV from the mids at Thursday 16:00, greeks with the time
    left from Friday 09:30 to Wednesday 16:00."""
    src = CboeSnapshotSource(DATA.with_name("spy_2025-09-25_2105.csv"))
    svc = FlowService(src).run_to_end()
    snap = svc.snapshot("SPY")
    when = (snap["as_of"], snap["expiration"], snap["time_to_close_hours"])
    assert when == ("2025-09-26T13:30:00Z", "2025-10-01", 6.5)
    meta = snap["metadata"]["delayed_snapshot"]
    assert meta["zero_dte"] is False and meta["note"].startswith("no 2025-09-26 expiry in the file")
    assert "(not 0DTE)" in src.label
    S = src.spot.spot
    close = calendar.session_bounds(src.expiry)[1]
    t_iv = (close - datetime(2025, 9, 25, 16, 0, tzinfo=ET)).total_seconds() / YEAR
    t = (close - datetime(2025, 9, 26, 9, 30, tzinfo=ET)).total_seconds() / YEAR
    r, q = svc.params.risk_free_rate, svc.params.q_for("SPY")
    got = {row["strike"]: row for row in snap["strikes"]}
    checked = 0
    for c in src.rows:
        if not (c.bid > 0 and c.ask >= c.bid) or abs(c.strike / S - 1) > 0.01:
            continue
        iv = ref_bs.implied_vol_bisection(c.is_call, 0.5 * (c.bid + c.ask), S, c.strike, t_iv, r, q)
        if not math.isfinite(iv):
            continue
        g = ref_bs.greeks(c.is_call, S, c.strike, t, r, q, iv)["gamma"]
        want = (1 if c.is_call else -1) * g * c.open_interest * 100 * S * S * 0.01
        assert got[c.strike]["call_gex" if c.is_call else "put_gex"] == pytest.approx(want, rel=1e-3, abs=1.0)
        checked += 1
    assert checked >= 10
