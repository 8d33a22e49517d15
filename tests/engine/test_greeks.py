"""Specification of zdte_tui.engine.greeks: BSM value, greeks and implied volatility.

Order: hand-computed textbook case, QuantLib agreement, finite differences for vanna/charm,
vectorized vs the scalar reference (tests/engine/ref_bs.py), then properties and garbage handling.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.engine.greeks import (
    HOURS_PER_YEAR,
    MIN_TIME_TO_EXPIRY_SECONDS,
    SECONDS_PER_YEAR,
    Greeks,
    bs_greeks,
    bs_price,
    charm_per_hour,
    implied_vol,
    years_to_expiry,
)

from . import ref_bs

ql = pytest.importorskip("QuantLib")

MINUTE = 60.0 / SECONDS_PER_YEAR
HOUR = 3600.0 / SECONDS_PER_YEAR
DAY = 86400.0 / SECONDS_PER_YEAR
GREEK_NAMES = Greeks._fields
DETERMINISTIC = settings(derandomize=True, deadline=None, max_examples=150)


def _no_warnings(fn, *args, **kwargs):
    """Call fn with every warning turned into an error (invalid inputs must be silent NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# Hand-computed case: Hull's S = K = 100, T = 1, r = 5%, q = 0, sigma = 20%.
# d1 = (0 + (0.05 + 0.02) * 1) / 0.2 = 0.35, d2 = 0.15, N(0.35) = 0.6368306512,
# N(0.15) = 0.5596176923, phi(0.35) = 0.3752403469, e^{-0.05} = 0.9512294245.
# --------------------------------------------------------------------------------------------

TEXTBOOK = dict(S=100.0, K=100.0, t=1.0, r=0.05, q=0.0, sigma=0.20)
TEXTBOOK_CALL = {
    "price": 10.4505835722,  # 100 N(d1) - 100 e^{-r} N(d2)
    "delta": 0.6368306512,  # N(d1)
    "gamma": 0.0187620173,  # phi(d1) / (100 * 0.2)
    "vega": 37.5240346917,  # 100 phi(d1) * 1
    "theta": -6.4140275464,  # -100 phi(d1) 0.2 / 2 - 0.05 * 100 e^{-r} N(d2)
    "vanna": -0.2814302602,  # -phi(d1) d2 / sigma
    "charm": -0.0656670607,  # -phi(d1) (2 r T - d2 sigma sqrt T) / (2 T sigma sqrt T)
}
TEXTBOOK_PUT = {
    "price": 5.5735260223,  # parity: C - S + K e^{-r}
    "delta": -0.3631693488,  # N(d1) - 1
    "gamma": 0.0187620173,
    "vega": 37.5240346917,
    "theta": -1.6578804239,  # -100 phi(d1) 0.2 / 2 + 0.05 * 100 e^{-r} N(-d2)
    "vanna": -0.2814302602,
    "charm": -0.0656670607,  # q = 0: same as the call
}


@pytest.mark.parametrize(("is_call", "expected"), [(True, TEXTBOOK_CALL), (False, TEXTBOOK_PUT)])
def test_textbook_case_matches_hand_computed_price_and_every_greek(is_call, expected):
    greeks = bs_greeks(is_call, **TEXTBOOK)

    for name, value in expected.items():
        assert float(getattr(greeks, name)) == pytest.approx(value, abs=1e-9), name
    assert float(bs_price(is_call, **TEXTBOOK)) == pytest.approx(expected["price"], abs=1e-9)


def test_textbook_implied_vol_is_twenty_percent():
    iv = implied_vol(True, TEXTBOOK_CALL["price"], 100.0, 100.0, 1.0, 0.05, 0.0)

    assert float(iv) == pytest.approx(0.20, abs=1e-9)


def test_dividend_yield_enters_as_continuous_carry():
    # S=100, K=95, T=0.5, r=10%, q=5%, sigma=20% (Hull, index option): call 11.1528... put 2.4651...
    call = bs_price(True, 100.0, 95.0, 0.5, 0.10, 0.05, 0.20)
    put = bs_price(False, 100.0, 95.0, 0.5, 0.10, 0.05, 0.20)

    assert float(call) == pytest.approx(ref_bs.price(True, 100.0, 95.0, 0.5, 0.10, 0.05, 0.20), abs=1e-12)
    assert float(call - put) == pytest.approx(100.0 * math.exp(-0.025) - 95.0 * math.exp(-0.05), abs=1e-12)


# --------------------------------------------------------------------------------------------
# Time to expiry and unit helpers
# --------------------------------------------------------------------------------------------

NS = 1_000_000_000


def test_years_to_expiry_uses_calendar_seconds_over_365_days():
    now_ns = 1_700_000_000 * NS
    close_ns = now_ns + 390 * 60 * NS  # a full session away

    assert years_to_expiry(now_ns, close_ns) == pytest.approx(390 * 60 / (365 * 86400), rel=1e-15)
    assert isinstance(years_to_expiry(now_ns, close_ns), float)


def test_years_to_expiry_keeps_sub_second_precision_from_int64_nanoseconds():
    now_ns = 1_700_000_000 * NS
    close_ns = now_ns + 3600 * NS + 250_000_000  # 1 h 0.25 s

    assert years_to_expiry(now_ns, close_ns) * SECONDS_PER_YEAR == pytest.approx(3600.25, abs=1e-9)


def test_years_to_expiry_is_floored_at_the_documented_minimum_even_after_the_close():
    close_ns = 1_700_000_000 * NS
    now_ns = np.array([close_ns - 10 * NS, close_ns, close_ns + 3600 * NS, close_ns - 120 * NS])

    years = years_to_expiry(now_ns, close_ns)

    assert isinstance(years, np.ndarray)
    np.testing.assert_allclose(
        years * SECONDS_PER_YEAR, [MIN_TIME_TO_EXPIRY_SECONDS] * 3 + [120.0], rtol=1e-15
    )
    assert years_to_expiry(close_ns, close_ns, floor_seconds=1.0) * SECONDS_PER_YEAR == pytest.approx(1.0)


def test_charm_per_hour_divides_the_annual_rate_by_8760_hours():
    assert HOURS_PER_YEAR == 8760.0
    np.testing.assert_allclose(charm_per_hour(np.array([-8.76, 17.52])), [-0.001, 0.002])


# --------------------------------------------------------------------------------------------
# QuantLib agreement.
#
# QuantLib (without intraday support) measures time in whole days, so the grid is checked two ways:
#  * every T (5 min, 30 min, 2 h, 1 day) through ql.BlackCalculator fed stdDev = sigma sqrt(T),
#    forward S e^{(r-q)T} and discount e^{-rT}: the same Black-Scholes-Merton model with intraday T
#    represented exactly; IV through ql.blackFormulaImpliedStdDev;
#  * whole-day T (1 and 7 days) through the full stack: VanillaOption + AnalyticEuropeanEngine +
#    BlackScholesMertonProcess, flat curves, Actual365Fixed (T = days / 365 exactly, our convention);
#    IV through VanillaOption.impliedVolatility.
# Tolerances: price, delta, gamma, vega, theta within 1e-9 relative + 1e-10 * S absolute (both sides
# are closed form; differences are rounding in the normal CDF); IV within 1e-7 absolute vol where
# the premium carries information (vega >= 1e-4 * S, else IV is ill-conditioned by definition).
# --------------------------------------------------------------------------------------------

SPOT = 100.0
RATE, DIV = 0.045, 0.013
QL_TIMES = {"5min": 5 * MINUTE, "30min": 30 * MINUTE, "2h": 2 * HOUR, "1d": DAY}
QL_MONEYNESS = {"itm_call_otm_put": 0.97, "atm": 1.0, "otm_call_itm_put": 1.03, "wing": 1.08}
QL_SIGMAS = (0.08, 0.35, 1.5)


def _ql_type(is_call: bool):
    return ql.Option.Call if is_call else ql.Option.Put


def _black_calculator(is_call, S, K, t, r, q, sigma):
    forward = S * math.exp((r - q) * t)
    return ql.BlackCalculator(
        ql.PlainVanillaPayoff(_ql_type(is_call), K), forward, sigma * math.sqrt(t), math.exp(-r * t)
    )


def _grid(times):
    for t_name, t in times.items():
        for m_name, m in QL_MONEYNESS.items():
            for sigma in QL_SIGMAS:
                for is_call in (True, False):
                    right = "C" if is_call else "P"
                    yield pytest.param(is_call, SPOT * m, t, sigma, id=f"{t_name}-{m_name}-{sigma}-{right}")


@pytest.mark.parametrize(("is_call", "K", "t", "sigma"), list(_grid(QL_TIMES)))
def test_price_and_greeks_agree_with_quantlib_black_calculator_at_intraday_expiries(is_call, K, t, sigma):
    calc = _black_calculator(is_call, SPOT, K, t, RATE, DIV, sigma)

    ours = bs_greeks(is_call, SPOT, K, t, RATE, DIV, sigma)

    expected = {
        "price": calc.value(),
        "delta": calc.delta(SPOT),
        "gamma": calc.gamma(SPOT),
        "vega": calc.vega(t),
        "theta": calc.theta(SPOT, t),
    }
    for name, value in expected.items():
        assert float(getattr(ours, name)) == pytest.approx(value, rel=1e-9, abs=1e-10 * SPOT), name


@pytest.mark.parametrize(("is_call", "K", "t", "sigma"), list(_grid(QL_TIMES)))
def test_implied_vol_agrees_with_quantlib_black_formula_implied_std_dev(is_call, K, t, sigma):
    calc = _black_calculator(is_call, SPOT, K, t, RATE, DIV, sigma)
    premium = calc.value()
    ours = float(implied_vol(is_call, premium, SPOT, K, t, RATE, DIV))
    if calc.vega(t) < 1e-4 * SPOT:  # the premium carries (almost) no volatility information here
        assert math.isnan(ours) or abs(float(bs_price(is_call, SPOT, K, t, RATE, DIV, ours)) - premium) <= 1e-7 * SPOT
        return
    forward = SPOT * math.exp((RATE - DIV) * t)
    ql_std_dev = ql.blackFormulaImpliedStdDev(
        _ql_type(is_call), K, forward, premium, math.exp(-RATE * t), 0.0, sigma * math.sqrt(t) * 1.1, 1e-14, 500
    )

    assert ours == pytest.approx(ql_std_dev / math.sqrt(t), abs=1e-7)
    assert ours == pytest.approx(sigma, abs=1e-7)


def _ql_option(is_call, K, days, sigma, evaluation_date):
    ql.Settings.instance().evaluationDate = evaluation_date
    day_count = ql.Actual365Fixed()
    spot = ql.SimpleQuote(SPOT)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(evaluation_date, DIV, day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(evaluation_date, RATE, day_count)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(evaluation_date, ql.NullCalendar(), sigma, day_count)),
    )
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(_ql_type(is_call), K), ql.EuropeanExercise(evaluation_date + days)
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option, process


@pytest.mark.parametrize(("is_call", "K", "t", "sigma"), list(_grid({"1d": DAY, "7d": 7 * DAY})))
def test_price_greeks_and_implied_vol_agree_with_quantlib_analytic_european_engine(is_call, K, t, sigma):
    days = round(t / DAY)
    option, process = _ql_option(is_call, K, days, sigma, ql.Date(15, ql.January, 2025))

    ours = bs_greeks(is_call, SPOT, K, t, RATE, DIV, sigma)

    expected = {
        "price": option.NPV(),
        "delta": option.delta(),
        "gamma": option.gamma(),
        "vega": option.vega(),
        "theta": option.theta(),
    }
    for name, value in expected.items():
        assert float(getattr(ours, name)) == pytest.approx(value, rel=1e-9, abs=1e-10 * SPOT), name
    if option.vega() >= 1e-4 * SPOT:
        ql_iv = option.impliedVolatility(option.NPV(), process, 1e-12, 500, 1e-4, 20.0)
        assert float(implied_vol(is_call, option.NPV(), SPOT, K, t, RATE, DIV)) == pytest.approx(ql_iv, abs=1e-7)


# --------------------------------------------------------------------------------------------
# vanna and charm against central finite differences of our own delta
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("is_call", "K", "t", "sigma"), list(_grid(QL_TIMES)))
def test_vanna_and_charm_match_central_differences_of_delta(is_call, K, t, sigma):
    args = (is_call, SPOT, K)
    greeks = bs_greeks(*args, t, RATE, DIV, sigma)
    h_sigma = 1e-5 * sigma
    h_t = 1e-5 * t

    vanna_fd = (
        bs_greeks(*args, t, RATE, DIV, sigma + h_sigma).delta - bs_greeks(*args, t, RATE, DIV, sigma - h_sigma).delta
    ) / (2 * h_sigma)
    # charm is dDelta / d(time passing) = -dDelta/dT
    later, earlier = bs_greeks(*args, t + h_t, RATE, DIV, sigma), bs_greeks(*args, t - h_t, RATE, DIV, sigma)
    charm_fd = -(later.delta - earlier.delta) / (
        2 * h_t
    )

    # tolerance: O(h^2) truncation (~1e-10 relative) plus rounding eps / h of the differenced deltas
    assert float(greeks.vanna) == pytest.approx(float(vanna_fd), rel=1e-6, abs=1e-9 / h_sigma)
    assert float(greeks.charm) == pytest.approx(float(charm_fd), rel=1e-6, abs=1e-9 / h_t)


# --------------------------------------------------------------------------------------------
# vectorized vs the scalar reference, over a hypothesis-generated grid
# --------------------------------------------------------------------------------------------

contract = st.tuples(
    st.booleans(),
    st.floats(-0.3, 0.3),  # ln(K/S)
    st.floats(60.0, 30 * 86400.0),  # seconds to expiry
    st.floats(0.02, 4.0),  # sigma
)


@DETERMINISTIC
@given(
    contracts=st.lists(contract, min_size=1, max_size=40),
    spot=st.floats(1.0, 10_000.0),
    rate=st.floats(-0.01, 0.10),
    div=st.floats(0.0, 0.08),
)
def test_vectorized_greeks_match_scalar_reference_contract_by_contract(contracts, spot, rate, div):
    is_call = np.array([c[0] for c in contracts])
    strike = spot * np.exp([c[1] for c in contracts])
    t = np.array([c[2] for c in contracts]) / SECONDS_PER_YEAR
    sigma = np.array([c[3] for c in contracts])

    ours = bs_greeks(is_call, spot, strike, t, rate, div, sigma)

    for i in range(len(contracts)):
        ref = ref_bs.greeks(bool(is_call[i]), spot, strike[i], t[i], rate, div, sigma[i])
        scale = {"price": spot, "delta": 1.0, "gamma": 1.0 / spot, "vega": spot, "theta": spot,
                 "vanna": 1.0, "charm": 1.0}
        for name in GREEK_NAMES:
            # the reference differs only in rounding; charm/theta/vanna carry 1/T, 1/sqrt(T) factors
            size = max(abs(ref[name]), scale[name] / math.sqrt(t[i]))
            assert abs(float(getattr(ours, name)[i]) - ref[name]) <= 1e-10 * size, (name, i)


@DETERMINISTIC
@given(
    is_call=st.booleans(),
    log_moneyness=st.floats(-0.1, 0.1),
    minutes=st.floats(5.0, 1440.0),
    sigma=st.floats(0.05, 3.0),
)
def test_vectorized_implied_vol_matches_scalar_bisection_reference(is_call, log_moneyness, minutes, sigma):
    K, t = SPOT * math.exp(log_moneyness), minutes * MINUTE
    premium = ref_bs.price(is_call, SPOT, K, t, RATE, DIV, sigma)
    reference = ref_bs.implied_vol_bisection(is_call, premium, SPOT, K, t, RATE, DIV)
    vega = ref_bs.greeks(is_call, SPOT, K, t, RATE, DIV, sigma)["vega"]

    ours = float(implied_vol(is_call, premium, SPOT, K, t, RATE, DIV))

    if vega > 1e-6 * SPOT:  # the premium pins sigma down
        assert ours == pytest.approx(reference, abs=1e-7)
    else:  # no information left in the premium: NaN, or any sigma that reprices it to tol * S
        assert math.isnan(ours) or abs(ref_bs.price(is_call, SPOT, K, t, RATE, DIV, ours) - premium) <= 1e-7 * SPOT


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------

chain = dict(
    K=st.lists(st.floats(-0.15, 0.15), min_size=1, max_size=30),
    minutes=st.floats(1.0, 3 * 1440.0),
    sigma=st.floats(0.03, 3.0),
    rate=st.floats(-0.01, 0.1),
    div=st.floats(0.0, 0.06),
)


@DETERMINISTIC
@given(**chain)
def test_put_call_parity_holds_for_delta_and_price(K, minutes, sigma, rate, div):
    strike, t = SPOT * np.exp(K), minutes * MINUTE
    call = bs_greeks(True, SPOT, strike, t, rate, div, sigma)
    put = bs_greeks(False, SPOT, strike, t, rate, div, sigma)

    np.testing.assert_allclose(call.delta - put.delta, math.exp(-div * t), rtol=0, atol=1e-14)
    np.testing.assert_allclose(
        call.price - put.price, SPOT * math.exp(-div * t) - strike * math.exp(-rate * t), rtol=0, atol=1e-11 * SPOT
    )


@DETERMINISTIC
@given(**chain)
def test_gamma_vega_and_vanna_are_identical_for_call_and_put(K, minutes, sigma, rate, div):
    strike, t = SPOT * np.exp(K), minutes * MINUTE
    call = bs_greeks(True, SPOT, strike, t, rate, div, sigma)
    put = bs_greeks(False, SPOT, strike, t, rate, div, sigma)

    np.testing.assert_array_equal(call.gamma, put.gamma)
    np.testing.assert_array_equal(call.vega, put.vega)
    np.testing.assert_array_equal(call.vanna, put.vanna)
    np.testing.assert_allclose(call.charm - put.charm, div * math.exp(-div * t), rtol=0, atol=1e-9)


def test_long_vanilla_theta_is_negative_and_outputs_broadcast_over_a_strike_by_time_grid():
    strikes = SPOT * np.exp(np.linspace(-0.01, 0.01, 11))[:, None]
    times = np.array([5 * MINUTE, HOUR, DAY])[None, :]

    greeks = bs_greeks(np.array([True]), SPOT, strikes, times, 0.0, 0.0, 0.2)

    for name in GREEK_NAMES:
        assert getattr(greeks, name).shape == (11, 3) and getattr(greeks, name).dtype == np.float64
    assert np.all(greeks.theta < 0.0)
    assert np.all(greeks.gamma > 0.0) and np.all(greeks.vega > 0.0)


def _round_trip_grid():
    sigma = np.geomspace(0.05, 3.0, 25)
    minutes = np.geomspace(5.0, 1440.0, 25)
    log_m = np.linspace(-0.1, 0.1, 41)
    s, m, k = (a.ravel() for a in np.meshgrid(sigma, minutes, log_m, indexing="ij"))
    is_call = np.resize([True, False], s.size)
    return is_call, SPOT * np.exp(k), m * MINUTE, s


def test_implied_vol_round_trips_bs_price_over_sigma_expiry_and_moneyness_grid():
    is_call, K, t, sigma = _round_trip_grid()
    premium = bs_price(is_call, SPOT, K, t, RATE, DIV, sigma)
    forward = SPOT * np.exp((RATE - DIV) * t)
    intrinsic = np.exp(-RATE * t) * np.maximum(np.where(is_call, 1.0, -1.0) * (forward - K), 0.0)
    time_value = premium - intrinsic

    iv = implied_vol(is_call, premium, SPOT, K, t, RATE, DIV)

    informative = time_value >= 1e-10 * SPOT  # premium above intrinsic by more than its rounding
    assert np.all(np.isfinite(iv[informative]))
    np.testing.assert_allclose(iv[informative], sigma[informative], rtol=1e-6)
    # Where the time value vanished in rounding, the answer is NaN or reprices within tol * S
    rest = ~informative
    repriced = bs_price(is_call[rest], SPOT, K[rest], t[rest], RATE, DIV, iv[rest])
    assert np.all(np.isnan(iv[rest]) | (np.abs(repriced - premium[rest]) <= 1e-7 * SPOT))
    assert np.all(np.isnan(iv[time_value <= 0.0]))


def test_implied_vol_recovers_sigma_far_out_of_the_money_with_a_vanishingly_small_premium():
    # x/s ~ -36: premium ~ 1e-280 $, below ndtr's range in the naive formula
    premium = bs_price(True, SPOT, 110.0, DAY, 0.0, 0.0, 0.05)
    assert 0.0 < float(premium) < 1e-250

    assert float(implied_vol(True, premium, SPOT, 110.0, DAY, 0.0, 0.0)) == pytest.approx(0.05, rel=1e-7)


def test_implied_vol_recovers_sigma_at_long_expiries_and_extreme_vols():
    is_call = np.array([True, False, True, False, True])
    K = np.array([100.0, 100.0, 300.0, 30.0, 100.0])
    t = np.array([2.0, 5.0, 1.0, 1.0, 0.5])
    sigma = np.array([3.0, 1.5, 0.6, 2.0, 19.0])
    premium = bs_price(is_call, SPOT, K, t, RATE, DIV, sigma)

    np.testing.assert_allclose(implied_vol(is_call, premium, SPOT, K, t, RATE, DIV), sigma, rtol=1e-6)


@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize("t", [5 * MINUTE, DAY])
def test_implied_vol_is_nan_below_discounted_intrinsic_and_at_or_above_the_upper_bound(is_call, t):
    K = np.array([90.0, 110.0])
    forward = SPOT * math.exp((RATE - DIV) * t)
    sign = 1.0 if is_call else -1.0
    intrinsic = math.exp(-RATE * t) * np.maximum(sign * (forward - K), 0.0)
    upper = SPOT * math.exp(-DIV * t) if is_call else K * math.exp(-RATE * t)

    below = implied_vol(is_call, intrinsic - 0.01, SPOT, K, t, RATE, DIV)
    at_intrinsic = implied_vol(is_call, np.where(intrinsic > 0, intrinsic, 0.0), SPOT, K, t, RATE, DIV)
    at_bound = implied_vol(is_call, upper, SPOT, K, t, RATE, DIV)
    above = implied_vol(is_call, upper + 0.01, SPOT, K, t, RATE, DIV)

    assert np.all(np.isnan(below)) and np.all(np.isnan(at_intrinsic))
    assert np.all(np.isnan(at_bound)) and np.all(np.isnan(above))


def test_implied_vol_is_nan_for_zero_negative_or_expired_inputs_and_fine_elsewhere():
    premium = float(bs_price(True, SPOT, SPOT, HOUR, RATE, DIV, 0.3))
    cases = np.array([
        # price,   S,      K,     t
        [premium, SPOT, SPOT, HOUR],  # the one valid row
        [0.0, SPOT, SPOT, HOUR],
        [-1.0, SPOT, SPOT, HOUR],
        [premium, 0.0, SPOT, HOUR],
        [premium, -SPOT, SPOT, HOUR],
        [premium, SPOT, 0.0, HOUR],
        [premium, SPOT, SPOT, 0.0],
        [premium, SPOT, SPOT, -HOUR],
    ])

    iv = _no_warnings(implied_vol, True, cases[:, 0], cases[:, 1], cases[:, 2], cases[:, 3], RATE, DIV)

    assert iv[0] == pytest.approx(0.3, abs=1e-9)
    assert np.all(np.isnan(iv[1:]))


garbage = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, -1.0, 1e-320, 1e308, math.nan, math.inf, -math.inf]),
)


@DETERMINISTIC
@given(values=st.lists(st.tuples(st.booleans(), garbage, garbage, garbage, garbage, garbage, garbage, garbage),
                        min_size=1, max_size=20))
def test_garbage_inputs_never_raise_or_warn_and_give_nan_where_inputs_are_invalid(values):
    cols = list(zip(*values))
    is_call = np.array(cols[0])
    price, S, K, t, r, q, sigma = (np.array(c, dtype=float) for c in cols[1:])

    iv = _no_warnings(implied_vol, is_call, price, S, K, t, r, q)
    greeks = _no_warnings(bs_greeks, is_call, S, K, t, r, q, sigma)
    value = _no_warnings(bs_price, is_call, S, K, t, r, q, sigma)

    finite = np.isfinite(price) & np.isfinite(S) & np.isfinite(K) & np.isfinite(t) & np.isfinite(r) & np.isfinite(q)
    iv_invalid = ~finite | (price <= 0) | (S <= 0) | (K <= 0) | (t <= 0)
    assert iv.shape == (len(values),)
    assert np.all(np.isnan(iv[iv_invalid]))
    assert np.all(np.isnan(iv) | ((iv >= 1e-4) & (iv <= 20.0)))
    greek_invalid = ~(np.isfinite(S) & np.isfinite(K) & np.isfinite(t) & np.isfinite(r) & np.isfinite(q)
                      & np.isfinite(sigma)) | (S <= 0) | (K <= 0) | (t <= 0) | (sigma <= 0)
    for name in GREEK_NAMES:
        assert np.all(np.isnan(getattr(greeks, name)[greek_invalid])), name
    assert np.all(np.isnan(value[greek_invalid]))


def test_scalar_inputs_give_zero_dimensional_arrays():
    greeks = bs_greeks(True, 100.0, 100.0, DAY, 0.0, 0.0, 0.2)
    iv = implied_vol(False, 1.0, 100.0, 100.0, DAY, 0.0, 0.0)

    assert all(isinstance(g, np.ndarray) and g.shape == () for g in greeks)
    assert isinstance(iv, np.ndarray) and iv.shape == ()


# --------------------------------------------------------------------------------------------
# implied vol started from a guess (the previous sample's vols; docs/model.md section 14)
# --------------------------------------------------------------------------------------------

def test_a_guess_gives_the_textbook_implied_vol_whether_near_far_or_missing():
    # the 20 % textbook call: a guess at the answer, 10 vol points off, absurd, or NaN
    for guess in (0.20, 0.30, 15.0, 1e-5, float("nan")):
        iv = implied_vol(True, TEXTBOOK_CALL["price"], 100.0, 100.0, 1.0, 0.05, 0.0, guess=guess)
        assert float(iv) == pytest.approx(0.20, abs=1e-9), guess


def test_a_guess_does_not_make_a_premium_without_an_implied_vol_solvable():
    # below discounted intrinsic; at the upper bound; a root above MAX_IMPLIED_VOL (25 vol, 1 day)
    above_max = float(bs_price(True, SPOT, 100.0, DAY, RATE, DIV, 25.0))
    premia = np.array([1.0, 100.0, above_max])
    K = np.array([80.0, 100.0, 100.0])
    assert np.isnan(implied_vol(True, premia, SPOT, K, DAY, RATE, DIV)).all()
    for guess in (0.2, 19.0, 25.0):
        assert np.isnan(implied_vol(True, premia, SPOT, K, DAY, RATE, DIV, guess=guess)).all(), guess


@DETERMINISTIC
@given(
    is_call=st.booleans(),
    log_moneyness=st.floats(-0.15, 0.15),
    minutes=st.floats(1.0, 1440.0),
    sigma=st.floats(0.03, 3.0),
    guess_ratio=st.floats(0.2, 5.0),
)
def test_implied_vol_from_a_guess_equals_implied_vol_from_scratch(is_call, log_moneyness, minutes, sigma,
                                                                  guess_ratio):
    """Same NaN pattern, same vol to 1e-6 (the documented IV tolerance), however good the guess:
    a guess only changes where the iteration starts, not the acceptance test."""
    K = SPOT * np.exp(np.array([log_moneyness, -log_moneyness, 0.5 * log_moneyness]))
    t = minutes * MINUTE
    premium = bs_price(is_call, SPOT, K, t, RATE, DIV, sigma)
    cold = implied_vol(is_call, premium, SPOT, K, t, RATE, DIV)
    warm = implied_vol(is_call, premium, SPOT, K, t, RATE, DIV, guess=sigma * guess_ratio)
    np.testing.assert_array_equal(np.isnan(warm), np.isnan(cold))
    np.testing.assert_allclose(warm, cold, rtol=0.0, atol=1e-6)
