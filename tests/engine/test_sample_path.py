"""Specification of the one-sample path (docs/model.md section 14, "What one 30 s sample costs"): a
live 30 s batch crosses one boundary, and the engine computes that row with numbers where the
vectorized rows would spend more on array calls than on arithmetic. Each one-row function must give
the vectorized rule's answer for that row, bit for bit (the same operations in the same order)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.engine.decision import pin_score_components, pin_score_one
from zdte_tui.engine.greeks import bs_greeks, bs_greeks_checked
from zdte_tui.engine.rows import (
    ChainLayout,
    StrikeSums,
    atm_iv_one,
    atm_iv_rows,
    fill_smile_rows,
    wall_rows,
    walls_one,
)
from zdte_tui.engine.sampler import BarSampler

from .conftest import CLOSE_NS, OPEN_NS, PROPERTY

R, Q = 0.045, 0.012


def same(a, b) -> bool:
    """Equal values with equal NaN positions (bit for bit apart from the sign of a zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


# --------------------------------------------------------------------------- greeks
def test_checked_greeks_of_the_textbook_call_are_bs_greeks():
    # S = K = 100, 30 days, sigma 20 %: d1 = (r - q + sigma^2/2) T / (sigma sqrt T) = 0.0760,
    # delta = e^{-qT} N(d1) = 0.99901 * 0.53028 = 0.5298; the same six numbers as bs_greeks, no price
    K, sigma = np.array([100.0]), np.array([0.2])
    g = bs_greeks(np.array([True]), 100.0, K, 30 / 365, R, Q, sigma)
    delta, gamma, vega, theta, vanna, charm = bs_greeks_checked(np.array([1.0]), 100.0, K, 30 / 365, R, Q, sigma)
    assert (delta[0], gamma[0], vega[0], theta[0], vanna[0], charm[0]) == (
        g.delta[0], g.gamma[0], g.vega[0], g.theta[0], g.vanna[0], g.charm[0])
    assert delta[0] == pytest.approx(0.5298, abs=1e-4)


@PROPERTY
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_checked_greeks_equal_bs_greeks_bit_for_bit(seed, one_row):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    strikes = rng.uniform(50.0, 800.0, n)
    is_call = rng.random(n) < 0.5
    m = 1 if one_row else int(rng.integers(2, 4))
    spot = rng.uniform(50.0, 800.0, m)
    t = rng.uniform(60.0, 7 * 86400.0, m) / (365 * 86400.0)
    sigma = rng.uniform(1e-3, 3.0, (m, n))
    sigma[rng.random((m, n)) < 0.2] = np.nan  # no vol: NaN greeks in both
    S, T = (float(spot[0]), float(t[0])) if one_row else (spot[:, None], t[:, None])
    g = bs_greeks(is_call[None, :], S, strikes[None, :], T, R, Q, sigma)
    out = bs_greeks_checked(np.where(is_call, 1.0, -1.0), S, strikes, T, R, Q, sigma)
    for name, value in zip(("delta", "gamma", "vega", "theta", "vanna", "charm"), out):
        assert same(value, getattr(g, name)), name
    assert bs_greeks_checked(np.where(is_call, 1.0, -1.0), S, strikes, T, R, Q, sigma, vega_theta=False)[2] is None


# --------------------------------------------------------------------------- walls and magnet
def test_walls_one_by_hand():
    # strikes 590..610, spot 600.5: call wall among 605, 610 (|call GEX| 5 vs 7: 610); put wall among
    # 590..600 (|put GEX| ties at 8: the higher strike, 600); magnet within 6 dollars (595, 600, 605 with
    # net -1, +3, +4): 605; unrestricted maxima 600 (call 11) and 590 (put 8, the first of the tie)
    grid = np.array([590.0, 595.0, 600.0, 605.0, 610.0])
    call = np.array([9.0, 1.0, 11.0, 5.0, 7.0])
    put = np.array([-8.0, -2.0, -8.0, -1.0, -3.0])
    w = walls_one(grid, call, put, call + put, 600.5, 6.0)
    assert w == (610.0, 7.0, 600.0, -8.0, 605.0, 4.0, 600.0, 11.0, 590.0, -8.0)


gex_values = st.integers(-3, 3).map(float)  # small integers: many ties, zeros and both signs


@PROPERTY
@given(st.lists(st.tuples(gex_values, gex_values), min_size=1, max_size=12),
       st.floats(-2.0, 14.0), st.sampled_from([math.nan, math.inf, 0.0, -1.0, 0.5, 2.0, 30.0]),
       st.booleans())
def test_walls_one_is_wall_rows_of_one_row(cells, spot_offset, band, on_a_strike):
    grid = 100.0 + 5.0 * np.arange(len(cells))
    call = np.array([c for c, _ in cells])
    put = np.array([p for _, p in cells])
    spot = 100.0 + 5.0 * round(spot_offset) if on_a_strike else 100.0 + 5.0 * spot_offset
    rows = wall_rows(grid, call[None, :], put[None, :], np.array([spot]), np.array([band]))
    one = walls_one(grid, call, put, call + put, spot, band)
    fields = ("call_wall", "call_wall_gex", "put_wall", "put_wall_gex", "magnet", "magnet_gex",
              "max_call_gex_strike", "max_call_gex", "max_put_gex_strike", "max_put_gex")
    for name, value in zip(fields, one):
        assert same(value, getattr(rows, name)[0]), name


def test_walls_one_with_an_unknown_spot_matches_wall_rows():
    grid, call, put = np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([-1.0, -2.0])
    rows = wall_rows(grid, call[None, :], put[None, :], np.array([np.nan]), np.array([np.nan]))
    one = walls_one(grid, call, put, call + put, math.nan, math.nan)
    assert same(one, [getattr(rows, f)[0] for f in rows.__dataclass_fields__])


# --------------------------------------------------------------------------- ATM IV
def test_atm_iv_one_by_hand():
    # strikes 595, 600 (call and put each); spot 598 is nearest 600: mean of its call and put IVs
    layout = ChainLayout(np.array([595.0, 600.0, 595.0, 600.0]), np.array([True, True, False, False]))
    iv = np.array([0.30, 0.20, 0.32, 0.24])
    assert atm_iv_one(layout, iv, 598.0) == (0.20 + 0.24) / 2
    assert atm_iv_one(layout, np.array([0.30, np.nan, 0.32, 0.24]), 598.0) == 0.24
    assert math.isnan(atm_iv_one(layout, np.array([0.30, np.nan, 0.32, np.nan]), 598.0))
    assert atm_iv_one(layout, iv, 597.5) == (0.30 + 0.32) / 2  # halfway: the lower strike (argmin's first)


@PROPERTY
@given(st.integers(0, 2**32 - 1), st.floats(80.0, 180.0), st.booleans())
def test_atm_iv_one_is_atm_iv_rows_of_one_row(seed, spot, halfway):
    rng = np.random.default_rng(seed)
    n_k = int(rng.integers(1, 15))
    grid = 100.0 + 2.5 * np.arange(n_k)
    # each strike lists a call, a put, both or (once in a while) a second call: the table or the fallback
    per_strike = rng.integers(1, 4 if rng.random() < 0.2 else 3, n_k)
    strikes = np.repeat(grid, per_strike)
    is_call = rng.random(len(strikes)) < 0.5
    iv = rng.uniform(0.05, 1.0, len(strikes))
    iv[rng.random(len(strikes)) < 0.3] = np.nan
    if halfway and n_k > 1:
        spot = float(grid[0] + 1.25)  # equally near two strikes
    layout = ChainLayout(strikes, is_call)
    expected = atm_iv_rows(layout.strike_grid, layout.strike_index, iv[None, :], np.array([spot]))[0]
    assert same(atm_iv_one(layout, iv, spot), expected)


# --------------------------------------------------------------------------- pin score
def test_pin_score_one_by_hand():
    # top-3 OI 30 % -> round(25 * 0.5) = 13; spot on the magnet -> 25; 3.25 of 6.5 h left -> round(25 * 0.25) = 6;
    # magnet GEX 10 % of gross -> round(25 * 0.4) = 10: 54
    assert pin_score_one(600.0, 600.0, 3.25, 6.5, 4.0, 30.0, 1e6, 1e7) == 54


finite_or_not = st.one_of(st.floats(-1e4, 1e4), st.sampled_from([math.nan, math.inf, -math.inf, 0.0]))


@PROPERTY
@given(st.floats(1.0, 1000.0), finite_or_not, st.floats(-2.0, 8.0), st.sampled_from([6.5, 3.5, 0.0, math.nan]),
       finite_or_not, finite_or_not, finite_or_not, finite_or_not)
def test_pin_score_one_is_pin_score_components(spot, magnet, hours_left, session, sigma, top3, mg, gross):
    c = pin_score_components(np.array([spot]), np.array([magnet]), np.array([hours_left]), session,
                             np.array([sigma]), np.array([top3]), np.array([mg]), np.array([gross]))
    assert pin_score_one(spot, magnet, hours_left, session, sigma, top3, mg, gross) == int(c["pin_score"][0])


# --------------------------------------------------------------------------- smile fill, strike sums, sampler
def test_smile_fill_with_the_chain_layout_equals_the_fill_without_it():
    strikes = np.array([590.0, 600.0, 610.0, 590.0, 600.0, 610.0])
    is_call = np.array([True, True, True, False, False, False])
    iv = np.array([[np.nan, 0.20, 0.18, 0.30, 0.22, np.nan],
                   [np.nan] * 6,
                   [0.25, 0.20, 0.18, 0.30, 0.22, 0.26]])
    spot = np.array([600.0, 600.0, 600.0])
    filled = fill_smile_rows(strikes, is_call, iv, spot, ChainLayout(strikes, is_call))
    assert same(filled, fill_smile_rows(strikes, is_call, iv, spot))
    # row 0: the 590 call takes the OTM smile at 590 (the put's 0.30), the 610 put the 610 call's 0.18
    assert same(filled[0], [0.30, 0.20, 0.18, 0.30, 0.22, 0.18])
    assert same(filled[1], iv[1]) and same(filled[2], iv[2])


@PROPERTY
@given(st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_strike_totals_of_one_row_are_the_totals_of_the_rows(n_strikes, seed):
    rng = np.random.default_rng(seed)
    index = np.repeat(np.arange(n_strikes), 2)[rng.permutation(2 * n_strikes)]
    is_call = np.zeros(2 * n_strikes, dtype=bool)
    is_call[np.unique(index, return_index=True)[1]] = True  # one call and one put a strike, shuffled
    sums = StrikeSums(index, is_call, n_strikes)
    assert sums.unique
    values = rng.normal(0.0, 1e6, 2 * n_strikes)
    assert same(sums.total(values), sums.total(values[None, :])[0])


def test_record_one_stores_what_record_rows_stores():
    grid = np.array([595.0, 600.0])
    a, b = BarSampler(OPEN_NS, CLOSE_NS, grid, 3), BarSampler(OPEN_NS, CLOSE_NS, grid, 3)
    strike = {"gex": np.array([1.5, -2.0]), "oi": np.array([10.0, 20.0])}
    series = {"spot": 600.25, "gamma_flip": math.nan}
    iv = np.array([0.2, np.nan, 0.3])
    a.record_rows(np.array([4]), {k: v[None, :] for k, v in strike.items()},
                  {k: np.array([v]) for k, v in series.items()}, iv=iv[None, :])
    b.record_one(4, strike, series, iv=iv)
    b.record_one(a.n_slots, strike, series, iv=iv)  # outside the session: nothing written
    for k in strike:
        assert same(a.strike[k], b.strike[k])
    for k in series:
        assert same(a.series[k], b.series[k])
    assert same(a.iv, b.iv) and (a.filled == b.filled).all() and b.filled.sum() == 1


# --------------------------------------------------------------------------- the engine's two paths
def test_the_one_row_sample_records_what_the_vectorized_rows_record():
    """The regression day (batches of 7 s to 10 min, many crossing one boundary) replayed twice: with
    the one-row path and with every boundary through the vectorized rows. Every sampled value equal."""
    from zdte_tui.engine.flow_engine import FlowEngine
    from zdte_tui.market.calendar import session_bounds_ns

    from .regression_day import load_day

    chain, batches = load_day()
    engines = []
    for one_row in (True, False):
        engine = FlowEngine(session_bounds=session_bounds_ns)
        engine.one_row_sample = one_row
        engine.apply(chain)
        for b in batches:
            engine.apply(b)
        engines.append(engine.books["SPY"])
    one, rows = engines
    single = sum(len(one.sampler.boundaries_in(b.start_ns - 1, b.end_ns)) == 1 for b in batches)
    assert single > 20  # the day exercises the one-row path
    assert (one.sampler.filled == rows.sampler.filled).all() and one.sampler.filled.sum() == 781
    for k in one.sampler.series:
        assert same(one.sampler.series[k], rows.sampler.series[k]), k
    for k in one.sampler.strike:
        assert same(one.sampler.strike[k], rows.sampler.strike[k]), k
    assert same(one.sampler.iv, rows.sampler.iv)
    assert same(one.hedge_rehedge, rows.hedge_rehedge) and one.last_flip == rows.last_flip
