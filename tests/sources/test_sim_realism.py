"""The simulator stays inside the documented bands of real 0DTE statistics (docs/simulator.md,
"Realism targets"); the statistics are computed the same way on the real files and on simulated days.

The real inputs are public S&P 500 bars and SPXW 0DTE chain snapshots trimmed into
tests/data/sim_targets (see its README). ``python benchmarks/realism.py`` prints the full table."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import numpy as np
import pytest

from zdte_tui.market.calendar import trading_days
from zdte_tui.sources.sim_model import simulate_session, simulate_spot
from zdte_tui.sources.sim_realism import (
    TARGETS,
    ChainSnapshot,
    close_efficiency,
    front_loading,
    load_cboe_chains,
    load_real,
    near_close_volume_share,
    print_size_stats,
    real_quote_and_volume_stats,
    simulated_flow_stats,
    simulated_quote_and_print_stats,
    spot_stats,
    spread_stats,
    summarize_flow,
    summarize_quotes,
    summarize_spot,
    volume_curve,
    volume_over_oi,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "sim_targets"
BANDS = {t.name: t for t in TARGETS}


# ------------------------------------------------------------------ the statistics, by hand
def test_front_loading_hand_computed_case():
    # cumulative volume 0 at the open, 30 by 10:45 (minute 75), 60 by 14:30 (300), 100 by 15:45 (375)
    assert front_loading(np.array([75, 300, 375]), np.array([30.0, 60.0, 100.0])) == pytest.approx((30 - 40) / 100)
    assert volume_curve(np.array([75, 300, 375]), np.array([30.0, 60.0, 100.0]), at_minutes=(75, 150)) == \
        pytest.approx([0.30, (30 + 30 * 75 / 225) / 100])


def test_near_close_share_and_volume_over_oi_hand_computed_case():
    # spot 100: strikes 99.6 and 100.4 are within 0.5 %, 101.5 within 2 %, 103 outside the window
    snap = ChainSnapshot(minute=375, spot=100.0, strikes=np.array([99.6, 100.4, 101.5, 103.0]),
                         call_volume=np.array([10.0, 20.0, 30.0, 500.0]), put_volume=np.array([5.0, 5.0, 30.0, 0.0]),
                         call_oi=np.array([1.0, 2.0, 3.0, 100.0]), put_oi=np.array([1.0, 1.0, 2.0, 0.0]))
    assert near_close_volume_share(snap) == pytest.approx(40 / 100)
    assert volume_over_oi(snap) == pytest.approx(100 / 10)


def test_close_efficiency_is_one_for_a_close_at_the_extreme_and_zero_back_at_the_open():
    assert close_efficiency([100, 100], [102, 101], [100, 99], [102, 100]).tolist() == [1.0, 0.0]


def test_spread_stats_hand_computed_case():
    # spot 100; OTM within 3 %: call 101 (1.00 x 1.10, mid 1.05), call 102 (0.05 x 0.10), put 99 (0.20 x 0.30);
    # ITM call 99 and the far call 104 are left out, and so is the one-sided put 98 (bid 0)
    strikes = np.array([98.0, 99.0, 101.0, 102.0, 104.0])
    got = spread_stats(strikes, 100.0, call_bid=[2.0, 1.5, 1.0, 0.05, 3.0], call_ask=[2.2, 1.6, 1.10, 0.10, 3.5],
                       put_bid=[0.0, 0.20, 3.0, 4.0, 5.0], put_ask=[0.05, 0.30, 3.2, 4.2, 5.2], tick_small=0.05)
    assert got["spread_rel_over_1usd"] == pytest.approx(0.10 / 1.05)
    assert got["spread_ticks_under_1usd"] == pytest.approx(np.median([1.0, 2.0]))


def test_print_size_stats_hand_computed_case():
    assert print_size_stats([1, 1, 2, 6]) == {"mean_print_size": 2.5, "one_lot_volume_share": 0.2}


# ------------------------------------------------------------------ the documented bands hold the real data
@functools.cache
def real():
    return load_real(DATA)


def test_documented_bands_contain_the_real_values_they_come_from():
    r = real()
    rng = r["range"] * 100
    assert len(rng) > 700
    spot = {"range_median_pct": np.median(rng), "range_p10_pct": np.percentile(rng, 10),
            "range_p90_pct": np.percentile(rng, 90), "efficiency_median": np.median(r["efficiency"]),
            "trend_day_share": np.mean(r["efficiency"] >= 0.7), "reversal_day_share": np.mean(r["efficiency"] < 0.25),
            "open_hour_vol_ratio": np.median(r["open_hour_vol_ratio"]),
            "close_hour_vol_ratio": np.median(r["close_hour_vol_ratio"])}
    for name, value in spot.items():
        assert BANDS[name].holds(value), (name, value)
    days = r["chain_days"]
    assert len(days) >= 3
    for stats in days.values():
        for name in ("near_close_volume_share", "volume_over_oi", "call_volume_share", "near_oi_share"):
            assert BANDS[name].holds(stats[name]), (name, stats[name])
        if "front_loading" in stats:
            assert BANDS["front_loading"].holds(stats["front_loading"])
            for name, v in zip(("volume_share_by_1045", "volume_share_by_1200", "volume_share_by_1400"),
                               stats["volume_curve"]):
                assert BANDS[name].holds(v), (name, v)
    oi = r["chain_oi"]
    assert BANDS["oi_within_2pct"].holds(oi["oi_within_2pct"]) and BANDS["put_oi_share"].holds(oi["put_oi_share"])
    assert BANDS["oi_below_minus_4pct"].holds(oi["oi_below_minus_4pct"])
    assert BANDS["lowest_strike_with_oi_pct"].holds(100 * oi["lowest_strike_with_oi"])


# ------------------------------------------------------------------ the simulator against the bands
DAYS = trading_days(dt.date(2026, 1, 2), dt.date(2026, 11, 30))


@pytest.mark.parametrize("symbol, n_days", [("SPX", 160), ("SPY", 120)])
def test_simulated_spot_paths_and_chains_match_real_range_shape_and_oi_over_many_seeds(symbol, n_days):
    # ~0.1 s a day; shares of day types need >= 100 days to sit within their band (binomial sd ~0.04)
    days = []
    for i in range(n_days):
        chain, spot, _ = simulate_spot(symbol, DAYS[(7 * i) % len(DAYS)], 1000 + i)
        days.append(spot_stats(spot, chain))
    stats = summarize_spot(days)
    outside = {k: round(v, 3) for k, v in stats.items() if not BANDS[k].holds(v)}
    assert not outside, outside


def test_simulated_chain_and_flow_match_real_spxw_days_over_seeds():
    flows = [simulated_flow_stats(simulate_session("SPY", DAYS[(7 * i) % len(DAYS)], 2000 + i)) for i in range(6)]
    stats = summarize_flow(flows)
    outside = {k: round(v, 3) for k, v in stats.items() if not BANDS[k].holds(v)}
    assert not outside, outside


def test_documented_quote_and_whole_day_bands_contain_the_real_downloads():
    real_q = real_quote_and_volume_stats(load_cboe_chains(DATA / "cboe_0dte_chains.csv.gz"))
    in_session = [v for v in real_q.values() if "spread_rel_over_1usd" in v]
    whole_days = [v for v in real_q.values() if "call_share_all" in v]
    assert len(in_session) == 2 and len(whole_days) == 5
    for v in in_session:
        assert BANDS["spread_rel_over_1usd"].holds(v["spread_rel_over_1usd"])
        assert BANDS["spread_ticks_under_1usd"].holds(v["spread_ticks_under_1usd"])
    for v in whole_days:
        assert BANDS["call_share_all"].holds(v["call_share_all"])
        assert BANDS["near_close_volume_share_day"].holds(v["near_close_volume_share"])


@pytest.mark.parametrize("symbol, n_sessions", [("SPX", 3), ("SPY", 3)])
def test_simulated_quotes_prints_and_whole_day_volume_match_their_bands(symbol, n_sessions):
    days = [simulated_quote_and_print_stats(simulate_session(symbol, DAYS[(7 * i) % len(DAYS)], 2000 + i))
            for i in range(n_sessions)]
    stats = summarize_quotes(days)
    judged = {k: v for k, v in stats.items() if k in BANDS and BANDS[k].applies_to(symbol)}
    assert set(judged) >= {"call_share_all", "near_close_volume_share_day"}
    outside = {k: round(v, 3) for k, v in judged.items() if not BANDS[k].holds(v)}
    assert not outside, outside


def test_simulated_spx_level_is_the_recent_real_level():
    last_real = list(real()["levels"].values())[-1]
    chain = simulate_spot("SPX", dt.date(2026, 8, 21), 1)[0]
    assert abs(chain.prev_close / last_real - 1) < 0.05
