"""Specification of zdte_tui.engine.exposure: dollar exposures, dealer signs, the gamma flip,
walls, magnet, max pain and the dealer delta curve (docs/model.md, "Exposures" and "Levels").

Order: hand-computed dollar figures, dealer sign conventions, flip (closed-form case, then a
dense brute-force scan), max pain and walls on hand examples, then properties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from zdte_tui.engine.exposure import (
    bs_gamma,
    chex_usd_per_hour,
    dealer_delta_shares,
    dealer_sign,
    dex_usd,
    gex_usd,
    max_pain,
    net_gex_over_spots,
    vex_usd,
)
from zdte_tui.engine.greeks import bs_greeks
from zdte_tui.engine.rows import FLIP_STATUS_NAMES, gamma_flip_rows, walls

from . import ref_bs
from .conftest import PROPERTY, PROPERTY_FEW

R, Q = 0.045, 0.012
HOURS = 1.0 / (365.0 * 24.0)  # one hour in years


# --------------------------------------------------------------------------- hand-computed dollars
def test_dollar_exposures_of_one_contract_by_hand():
    # dealers long 1,000 contracts; S = 600; gamma 0.05, delta 0.5, vanna 0.8, charm -0.01 per hour
    pos, spot = 1000.0, 600.0
    assert gex_usd(0.05, pos, spot) == pytest.approx(0.05 * 1000 * 100 * 600**2 * 0.01)  # 18,000,000
    assert gex_usd(0.05, pos, spot) == pytest.approx(18_000_000.0)
    assert dex_usd(0.5, pos, spot) == pytest.approx(30_000_000.0)      # 0.5 * 1000 * 100 * 600
    assert vex_usd(0.8, pos, spot) == pytest.approx(480_000.0)         # 0.8 * 1000 * 100 * 600 * 0.01
    assert chex_usd_per_hour(-0.01, pos, spot) == pytest.approx(-600_000.0)  # -0.01 * 1000 * 100 * 600


def test_gex_of_a_real_contract_equals_gamma_oi_100_s2_1pct():
    S, K, t, sigma = 600.0, 602.0, 3 * HOURS, 0.18
    gamma = ref_bs.greeks(True, S, K, t, R, Q, sigma)["gamma"]
    oi = 2_500
    expected = gamma * oi * 100 * S * S * 0.01
    got = gex_usd(bs_greeks(True, S, K, t, R, Q, sigma).gamma, dealer_sign(np.array([True]),
                  "long_calls_short_puts") * oi, S)
    assert got[0] == pytest.approx(expected, rel=1e-9)
    # GEX is the dollar delta change for a 1% move: slope of the dealer's share delta x 1% x S x S
    h = S * 1e-6
    down, up = dealer_delta_shares(np.array([S - h, S + h]), np.array([True]), np.array([K]), t, R, Q,
                                   np.array([sigma]), np.array([float(oi)]))
    assert (up - down) / (2 * h) * 0.01 * S * S == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("convention, call_sign, put_sign", [
    ("long_calls_short_puts", 1.0, -1.0),
    ("short_calls_long_puts", -1.0, 1.0),
    ("customer_flow", 1.0, -1.0),  # the static base of customer_flow positions
])
def test_dealer_sign_per_convention(convention, call_sign, put_sign):
    np.testing.assert_array_equal(dealer_sign(np.array([True, False]), convention), [call_sign, put_sign])


# --------------------------------------------------------------------------- sign properties
@st.composite
def random_chain(draw, n_strikes_max=30):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(2, n_strikes_max))
    spot = draw(st.floats(50.0, 6000.0))
    k = np.sort(spot * (1 + rng.uniform(-0.06, 0.06, n)))
    strikes = np.r_[k, k]
    is_call = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    oi = rng.integers(0, 20_000, 2 * n).astype(np.float64)
    sigma = rng.uniform(0.05, 1.5, 2 * n)
    t = draw(st.floats(60.0, 7 * 3600.0)) / (365 * 86400)
    return spot, strikes, is_call, oi, sigma, t


@PROPERTY
@given(random_chain(), st.sampled_from(["long_calls_short_puts", "short_calls_long_puts"]))
def test_call_gex_and_put_gex_have_the_convention_sign(chain, convention):
    spot, strikes, is_call, oi, sigma, t = chain
    g = bs_greeks(is_call, spot, strikes, t, R, Q, sigma)
    gex = gex_usd(g.gamma, dealer_sign(is_call, convention) * oi, spot)
    grid, index = np.unique(strikes, return_inverse=True)
    call_gex = np.bincount(index, weights=np.where(is_call, gex, 0.0), minlength=len(grid))
    put_gex = np.bincount(index, weights=np.where(is_call, 0.0, gex), minlength=len(grid))
    calls_sign = 1.0 if convention == "long_calls_short_puts" else -1.0
    assert np.all(calls_sign * call_gex >= 0.0)
    assert np.all(calls_sign * put_gex <= 0.0)


@PROPERTY
@given(S=st.floats(1.0, 10_000.0), moneyness=st.floats(-0.3, 0.3), t_seconds=st.floats(60.0, 86400.0 * 30),
       r=st.floats(-0.01, 0.1), q=st.floats(0.0, 0.05), sigma=st.floats(0.01, 3.0))
def test_bs_gamma_equals_bs_greeks_gamma(S, moneyness, t_seconds, r, q, sigma):
    K = S * math.exp(moneyness)
    t = t_seconds / (365 * 86400)
    expected = bs_greeks(True, S, K, t, r, q, sigma).gamma
    assert bs_gamma(S, K, t, r, q, sigma) == pytest.approx(float(expected), rel=1e-12, abs=1e-300)
    assert float(bs_greeks(False, S, K, t, r, q, sigma).gamma) == pytest.approx(float(expected), rel=1e-12,
                                                                               abs=1e-300)


# --------------------------------------------------------------------------- gamma flip
def gamma_flip(spot, is_call, strikes, t, r, q, sigma, position):
    """One chain's flip through the engine's row kernel: (level or None, status name)."""
    level, status = gamma_flip_rows(np.array([spot], dtype=np.float64), np.asarray(strikes, dtype=np.float64),
                                    np.array([float(t)]), r, q, np.asarray(sigma, dtype=np.float64)[None, :],
                                    np.asarray(position, dtype=np.float64)[None, :])
    code = int(status[0])
    return (float(level[0]) if code == 0 else None), FLIP_STATUS_NAMES[code]


def test_gamma_flip_of_a_long_call_short_put_pair_has_a_closed_form():
    """Dealers long N calls at K_hi, short N puts at K_lo, same vol: net GEX ~ phi(d1(K_hi)) - phi(d1(K_lo)),
    zero where d1(K_hi) = -d1(K_lo), i.e. S* = sqrt(K_lo K_hi) exp(-(r - q + sigma^2/2) t)."""
    k_lo, k_hi, sigma, t = 595.0, 605.0, 0.25, 6.5 * HOURS
    strikes = np.array([k_hi, k_lo])
    is_call = np.array([True, False])
    position = np.array([3000.0, -3000.0])
    expected = math.sqrt(k_lo * k_hi) * math.exp(-(R - Q + 0.5 * sigma**2) * t)
    flip, status = gamma_flip(601.0, is_call, strikes, t, R, Q, np.full(2, sigma), position)
    assert status == "ok"
    assert flip == pytest.approx(expected, abs=0.01)
    # below the flip dealers are net short gamma, above it net long
    below, above = net_gex_over_spots(np.array([expected - 1, expected + 1]), is_call, strikes, t, R, Q,
                                      np.full(2, sigma), position)
    assert below < 0 < above


def test_gamma_flip_statuses():
    strikes, is_call, sigma, t = np.array([600.0]), np.array([True]), np.array([0.2]), 3 * HOURS
    assert gamma_flip(600.0, is_call, strikes, t, R, Q, sigma, np.array([100.0])) == (None, "no_crossing_in_range")
    assert gamma_flip(600.0, is_call, strikes, t, R, Q, sigma, np.array([0.0])) == (None, "no_data")
    assert gamma_flip(600.0, is_call, strikes, t, R, Q, np.array([np.nan]), np.array([100.0])) == (None, "no_data")
    assert gamma_flip(float("nan"), is_call, strikes, t, R, Q, sigma, np.array([100.0])) == (None, "no_data")
    assert gamma_flip(0.0, is_call, strikes, t, R, Q, sigma, np.array([100.0])) == (None, "no_data")


def dense_crossings(spot, is_call, strikes, t, sigma, position, points=4001, pct=5.0):
    grid = spot * (1.0 + np.linspace(-pct, pct, points) / 100.0)
    net = net_gex_over_spots(grid, is_call, strikes, t, R, Q, sigma, position)
    s = np.sign(net)
    i = np.flatnonzero(s[1:] * s[:-1] < 0)
    return grid[i] - net[i] * (grid[i + 1] - grid[i]) / (net[i + 1] - net[i])


def smooth_chain_from_seed(seed: int):
    """A chain whose OI is a few smooth humps plus noise, a convex smile, 15 min to 6.5 h left;
    dealers long calls, short puts. Returns (spot, strikes, is_call, position, sigma, t)."""
    rng = np.random.default_rng(seed)
    spot = rng.uniform(100.0, 6000.0)
    step = spot * rng.choice([0.001, 0.002, 0.005])
    k = spot + step * np.arange(-40, 41)
    n = len(k)
    x = (k - spot) / spot

    def humps():
        centres = rng.uniform(-0.05, 0.05, 3)
        widths = rng.uniform(0.003, 0.03, 3)
        heights = rng.uniform(0, 10_000, 3)
        return (heights[:, None] * np.exp(-0.5 * ((x[None, :] - centres[:, None]) / widths[:, None]) ** 2)).sum(0)

    oi = np.r_[humps(), humps()] * rng.uniform(0.7, 1.3, 2 * n)
    strikes = np.r_[k, k]
    is_call = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    smile = 0.15 + 2.0 * np.abs(np.log(strikes / spot)) + rng.uniform(0, 0.02, 2 * n)
    t = rng.uniform(0.25, 6.5) * HOURS
    return spot, strikes, is_call, dealer_sign(is_call, "long_calls_short_puts") * oi, smile, t


smooth_chain = st.integers(0, 2**32 - 1).map(smooth_chain_from_seed)


def check_flip_against_dense_scan(chain, tol_fraction_of_spot: float) -> None:
    spot, strikes, is_call, position, sigma, t = chain
    flip, status = gamma_flip(spot, is_call, strikes, t, R, Q, sigma, position)
    dense = dense_crossings(spot, is_call, strikes, t, sigma, position)
    coarse_step = spot * 0.25 / 100  # the default 41-point grid over +-5%
    # the 41-point grid cannot see two crossings closer than its step: the spec covers isolated ones
    assume(len(dense) < 2 or np.min(np.diff(dense)) > 2 * coarse_step)
    assume(np.all(np.abs(dense - spot) < 0.05 * spot - coarse_step))  # not straddling the range edge
    if len(dense) == 0:
        assert flip is None and status in ("no_crossing_in_range", "no_data")
        return
    assert status == "ok"
    tol = tol_fraction_of_spot * spot
    distances = np.sort(np.abs(dense - spot))
    if len(dense) == 1 or distances[1] - distances[0] > 2 * coarse_step:
        assert flip == pytest.approx(dense[np.argmin(np.abs(dense - spot))], abs=tol)
    else:  # two crossings about equally far from spot: either is a valid "nearest"
        assert np.min(np.abs(dense - flip)) <= tol


@PROPERTY
@given(smooth_chain)
def test_gamma_flip_agrees_with_a_dense_4001_point_scan_within_a_thousandth_of_a_percent(chain):
    check_flip_against_dense_scan(chain, 1e-5)


@PROPERTY
@given(smooth_chain)
def test_gamma_flip_agrees_with_a_dense_4001_point_scan_to_its_resolution(chain):
    check_flip_against_dense_scan(chain, 2.5e-5)  # the dense grid's own step


def test_gamma_flip_of_a_sharp_late_session_profile_is_refined_to_a_cent():
    spot, strikes, is_call, position, sigma, t = smooth_chain_from_seed(2436)
    dense = dense_crossings(spot, is_call, strikes, t, sigma, position)
    assert len(dense) == 1
    flip, status = gamma_flip(spot, is_call, strikes, t, R, Q, sigma, position)
    assert status == "ok"
    assert flip == pytest.approx(dense[0], abs=0.01)


# --------------------------------------------------------------------------- max pain
def test_max_pain_hand_example():
    grid = np.array([95.0, 100.0, 105.0])
    strikes = np.r_[grid, grid]
    is_call = np.r_[np.ones(3, bool), np.zeros(3, bool)]
    # calls OI 0/10/30, puts OI 40/20/5; holders are paid at settlement P:
    #   P=95:  puts 20*5 + 5*10 = 150;  P=100: put 5*5 = 25;  P=105: call 10*5 = 50
    oi = np.array([0.0, 10.0, 30.0, 40.0, 20.0, 5.0])
    assert max_pain(grid, strikes, is_call, oi) == 100.0
    # 1 call at 95 and 50 puts at 105: P=95 pays 500, P=100 pays 5 + 250, P=105 pays 10
    oi = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 50.0])
    assert max_pain(grid, strikes, is_call, oi) == 105.0


def test_max_pain_without_open_interest_is_none():
    grid = np.array([95.0, 100.0])
    assert max_pain(grid, np.r_[grid, grid], np.array([True, True, False, False]), np.zeros(4)) is None
    assert max_pain(np.empty(0), np.empty(0), np.empty(0, bool), np.empty(0)) is None


# --------------------------------------------------------------------------- walls and magnet
GRID = np.array([590.0, 595.0, 600.0, 605.0, 610.0])
CALL_GEX = np.array([0.0, 1.0, 5.0, 8.0, 3.0])
PUT_GEX = np.array([-2.0, -9.0, -4.0, -1.0, 0.0])
NET_GEX = CALL_GEX + PUT_GEX  # [-2, -8, 1, 7, 3]
TOTAL_OI = np.array([10.0, 40.0, 30.0, 20.0, 5.0])


def test_walls_hand_example():
    w = walls(GRID, CALL_GEX, PUT_GEX, NET_GEX, TOTAL_OI, spot=600.0, band_dollars=6.0)
    assert (w.call_wall, w.call_wall_gex) == (605.0, 8.0)
    assert (w.put_wall, w.put_wall_gex) == (595.0, -9.0)
    assert (w.magnet, w.magnet_gex) == (605.0, 7.0)      # band 594-606: largest positive net GEX
    assert (w.highest_oi_strike, w.highest_oi_total) == (595.0, 40)
    assert (w.max_positive_gamma, w.max_negative_gamma) == (605.0, 595.0)


def test_magnet_is_limited_to_the_band_around_spot():
    assert walls(GRID, CALL_GEX, PUT_GEX, NET_GEX, TOTAL_OI, 600.0, 2.0).magnet == 600.0
    # no strike within the band: the strike nearest spot
    assert walls(GRID, CALL_GEX, PUT_GEX, NET_GEX, TOTAL_OI, 601.0, 0.5).magnet == 600.0
    # no band: the whole chain (the 605 strike still wins)
    assert walls(GRID, CALL_GEX, PUT_GEX, NET_GEX, TOTAL_OI, 600.0, None).magnet == 605.0


def test_magnet_falls_back_to_the_largest_absolute_net_gex_when_none_is_positive():
    call_gex = np.array([0.0, 1.0, 2.0, 1.0, 3.0])
    put_gex = np.array([-2.0, -9.0, -3.0, -8.0, 0.0])  # net [-2, -8, -1, -7, 3]: only 610 positive
    w = walls(GRID, call_gex, put_gex, call_gex + put_gex, TOTAL_OI, 600.0, 6.0)
    assert (w.magnet, w.magnet_gex) == (595.0, -8.0)


def test_walls_of_an_empty_or_flat_chain_are_none():
    w = walls(np.empty(0), np.empty(0), np.empty(0), np.empty(0), np.empty(0), 600.0, 5.0)
    assert all(v is None for v in vars(w).values())
    z = np.zeros(5)
    w = walls(GRID, z, z, z, z, 600.0, 5.0)
    assert all(v is None for v in vars(w).values())


# --------------------------------------------------------------------------- dealer delta curve
@PROPERTY_FEW
@given(smooth_chain, st.floats(-0.04, 0.04))
def test_dealer_delta_slope_is_dealer_gamma(chain, offset):
    spot, strikes, is_call, position, sigma, t = chain
    s0 = spot * (1 + offset)
    h = s0 * 1e-5
    shares = dealer_delta_shares(np.array([s0 - h, s0 + h]), is_call, strikes, t, R, Q, sigma, position)
    slope = (shares[1] - shares[0]) / (2 * h)
    gamma_shares = float(np.nansum(bs_greeks(is_call, s0, strikes, t, R, Q, sigma).gamma * position) * 100)
    scale = float(np.nansum(np.abs(bs_greeks(is_call, s0, strikes, t, R, Q, sigma).gamma * position)) * 100)
    assert slope == pytest.approx(gamma_shares, abs=1e-4 * scale + 1e-9)


def test_dealer_delta_of_one_long_call_is_its_delta_times_100():
    g = bs_greeks(True, 600.0, 600.0, 2 * HOURS, R, Q, 0.2)
    shares = dealer_delta_shares(np.array([600.0]), np.array([True]), np.array([600.0]), 2 * HOURS, R, Q,
                                 np.array([0.2]), np.array([10.0]))
    assert shares[0] == pytest.approx(float(g.delta) * 10 * 100)


# --------------------------------------------------------------------------- walls on their side of spot
def test_walls_sit_on_their_side_of_spot_and_keep_the_unrestricted_maxima():
    # spot 606: the largest call GEX (605) is below spot, so the call wall is the largest at or above
    w = walls(GRID, CALL_GEX, PUT_GEX, NET_GEX, TOTAL_OI, spot=606.0, band_dollars=None)
    assert (w.call_wall, w.call_wall_gex) == (610.0, 3.0)
    assert (w.put_wall, w.put_wall_gex) == (595.0, -9.0)
    assert (w.max_call_gex_strike, w.max_call_gex) == (605.0, 8.0)
    assert (w.max_put_gex_strike, w.max_put_gex) == (595.0, -9.0)
    # spot 594: the largest put GEX (595) is above spot
    w = walls(GRID, CALL_GEX, PUT_GEX, NET_GEX, TOTAL_OI, spot=594.0, band_dollars=None)
    assert (w.call_wall, w.put_wall, w.put_wall_gex) == (605.0, 590.0, -2.0)


def test_spot_just_above_the_biggest_strike_no_longer_gives_call_wall_equal_put_wall():
    # the shape of issue 12's SPY case: spot 645.05, both the call and the put GEX peak at 645
    grid = np.array([643.0, 644.0, 645.0, 646.0, 647.0])
    calls = np.array([1.0, 2.0, 9.0, 4.0, 3.0])
    puts = -np.array([3.0, 5.0, 9.0, 1.0, 0.5])
    w = walls(grid, calls, puts, calls + puts, np.ones(5), spot=645.05, band_dollars=None)
    assert (w.call_wall, w.put_wall) == (646.0, 645.0)
    assert (w.max_call_gex_strike, w.max_put_gex_strike) == (645.0, 645.0)


def test_wall_ties_go_to_the_strike_nearest_spot_and_a_strike_at_spot_counts_on_both_sides():
    grid = np.array([98.0, 99.0, 100.0, 101.0, 102.0])
    calls = np.array([0.0, 0.0, 5.0, 7.0, 7.0])
    puts = -np.array([6.0, 6.0, 2.0, 0.0, 0.0])
    w = walls(grid, calls, puts, calls + puts, np.ones(5), spot=100.0, band_dollars=None)
    assert (w.call_wall, w.put_wall) == (101.0, 99.0)
    at = walls(grid, np.array([0, 0, 9.0, 1, 1]), -np.array([1, 1, 9.0, 0, 0]), np.zeros(5), np.ones(5),
               spot=100.0, band_dollars=None)
    assert (at.call_wall, at.put_wall) == (100.0, 100.0)


def test_no_strike_or_no_exposure_on_a_side_means_no_wall_there():
    above = walls(GRID, CALL_GEX, PUT_GEX, NET_GEX, TOTAL_OI, spot=611.0, band_dollars=None)
    assert above.call_wall is None and above.put_wall == 595.0
    below = walls(GRID, CALL_GEX, PUT_GEX, NET_GEX, TOTAL_OI, spot=589.0, band_dollars=None)
    assert below.put_wall is None and below.call_wall == 605.0
    # spot 609: 610 is the only call strike above and it has exposure 3; puts above 609: 610 has 0
    w = walls(GRID, CALL_GEX, np.array([-2.0, -9.0, -4.0, -1.0, 0.0]), NET_GEX, TOTAL_OI, spot=609.0,
              band_dollars=None)
    assert w.call_wall == 610.0


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(np.float64, 12, elements=st.floats(-1e9, 1e9, allow_nan=False)),
       hnp.arrays(np.float64, 12, elements=st.floats(-1e9, 1e9, allow_nan=False)),
       st.floats(95.0, 115.0))
def test_property_walls_are_the_largest_exposure_on_their_side(calls, puts, spot):
    grid = 100.0 + np.arange(12.0)
    w = walls(grid, calls, puts, calls + puts, np.ones(12), spot=spot, band_dollars=None)
    up, down = grid >= spot, grid <= spot
    if w.call_wall is None:
        assert not np.any(np.abs(calls[up]) > 0)
    else:
        assert w.call_wall >= spot and abs(w.call_wall_gex) == np.abs(calls[up]).max()
        assert w.call_wall == grid[up][np.abs(calls[up]) == np.abs(calls[up]).max()].min()   # tie: nearest spot
    if w.put_wall is None:
        assert not np.any(np.abs(puts[down]) > 0)
    else:
        assert w.put_wall <= spot and abs(w.put_wall_gex) == np.abs(puts[down]).max()
        assert w.put_wall == grid[down][np.abs(puts[down]) == np.abs(puts[down]).max()].max()
