"""Specification of zdte_tui.engine.oi: the effective open-interest model
(docs/model.md, "Effective open interest").

Order: hand-computed probabilities and OI changes, flooring, bias thresholds, then properties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.engine import oi
from zdte_tui.engine.classify import ABOVE_ASK, AT_ASK, AT_BID, BELOW_BID, MID, UNKNOWN
from zdte_tui.engine.oi import (
    BIAS_CLOSING,
    BIAS_OPENING,
    BIAS_UNKNOWN,
    effective_oi,
    expected_oi_change,
    floored_oi_path,
    open_close_bias,
    open_probability,
)
from zdte_tui.engine.params import EngineParams

from .conftest import PROPERTY

P = EngineParams()
DEFAULTS = dict(p_open_at_open=P.open_prob_open, p_open_at_close=P.open_prob_close,
                aggressor_boost=P.open_prob_aggressor_boost, mid_shrink=P.open_prob_mid_shrink)


def p_open(fraction: float, aggressor: int, **params) -> float:
    kw = {**DEFAULTS, **params}
    return float(open_probability(np.array([fraction]), np.array([aggressor], dtype=np.int8), **kw)[0])


# --------------------------------------------------------------------------- hand cases
def test_default_parameters_are_the_documented_ones():
    assert (P.open_prob_open, P.open_prob_close, P.open_prob_aggressor_boost, P.open_prob_mid_shrink,
            P.bias_threshold) == (0.68, 0.32, 0.06, 0.5, 0.10)


@pytest.mark.parametrize("fraction, aggressor, expected", [
    (0.0, AT_ASK, 0.68 + 0.06),             # at the open, urgent: 0.74
    (0.0, BELOW_BID, 0.68 + 0.06),
    (1.0, ABOVE_ASK, 0.32 + 0.06),          # at the close: 0.38
    (0.5, AT_BID, 0.50 + 0.06),             # midday lerp 0.50, boosted
    (0.0, MID, 0.68 + (0.5 - 0.68) * 0.5),  # mid prints pulled halfway to 0.5: 0.59
    (1.0, MID, 0.32 + (0.5 - 0.32) * 0.5),  # 0.41
    (0.0, UNKNOWN, 0.59),                   # unknown aggressor is treated like mid
    (0.25, MID, (0.68 - 0.36 * 0.25) * 0.5 + 0.25),
])
def test_open_probability_hand_cases(fraction, aggressor, expected):
    assert p_open(fraction, aggressor) == pytest.approx(expected, abs=1e-12)


def test_session_fraction_outside_the_session_is_clamped():
    assert p_open(-0.3, AT_ASK) == p_open(0.0, AT_ASK)
    assert p_open(1.7, AT_ASK) == p_open(1.0, AT_ASK)


def test_open_probability_is_clipped_to_2_and_98_percent():
    assert p_open(0.0, AT_ASK, p_open_at_open=1.0, aggressor_boost=0.5) == 0.98
    assert p_open(1.0, AT_ASK, p_open_at_close=0.0, aggressor_boost=-0.5) == 0.02


def test_expected_oi_change_hand_case():
    # 100 contracts at the ask at the open: p = 0.74 -> +48 contracts; 100 at the bid at the
    # close: p = 0.38 -> -24; a mid print at midday: p = 0.5 -> 0
    size = np.array([100.0, 100.0, 100.0])
    p = open_probability(np.array([0.0, 1.0, 0.5]), np.array([AT_ASK, AT_BID, MID], dtype=np.int8), **DEFAULTS)
    np.testing.assert_allclose(expected_oi_change(size, p), [48.0, -24.0, 0.0], atol=1e-9)


def test_floored_oi_path_sums_per_contract_and_floors_at_zero_oi():
    net = np.array([0.0, 0.0, 2.0])
    settled = np.array([100, 5, 0])
    contract = np.array([0, 1, 1, 2])
    d_oi = np.array([10.0, -3.0, -4.0, -7.0])
    start = settled + net
    out = floored_oi_path(start, contract, np.arange(4, dtype=np.int64), np.zeros(4, dtype=np.int64), d_oi, 1)[0]
    np.testing.assert_array_equal(out - settled, [10.0, -5.0, -0.0])  # 5-3-4 floored at 0; 2-7 floored at 0
    np.testing.assert_array_equal(start, [100.0, 5.0, 2.0])  # pure: input untouched
    np.testing.assert_array_equal(effective_oi(settled, out - settled), [110.0, 0.0, 0.0])


def test_floor_can_bind_only_where_start_plus_all_closes_goes_below_zero():
    # contract 0: 5 - 3 - 1 = 1 > 0 at worst, a plain sum whatever the order (+4 in between: 5);
    # contract 1: 2 - 3 = -1 at worst, so its prints are walked one by one: 2 -> 0 (floored) -> 4
    start = np.array([5.0, 2.0])
    contract = np.array([0, 1, 0, 1, 0])
    d_oi = np.array([-3.0, -3.0, 4.0, 4.0, -1.0])
    slot = np.array([0, 0, 1, 1, 1])
    out = floored_oi_path(start, contract, np.arange(5, dtype=np.int64), slot, d_oi, 2)
    np.testing.assert_array_equal(out, [[2.0, 0.0], [5.0, 4.0]])


def test_open_probability_broadcasts_one_aggressor_over_many_prints():
    p = open_probability(np.array([0.0, 1.0]), np.int8(MID), **DEFAULTS)
    np.testing.assert_allclose(p, [0.59, 0.41], atol=1e-12)  # 0.68 and 0.32 pulled halfway to 0.5
    assert open_probability(0.0, np.int8(AT_ASK), **DEFAULTS).shape == ()


def test_effective_oi_is_settled_plus_delta_never_below_zero():
    np.testing.assert_array_equal(effective_oi(np.array([100, 10]), np.array([-30.5, -40.0])), [69.5, 0.0])


@pytest.mark.parametrize("delta, volume, bias", [
    (20.0, 100.0, BIAS_OPENING),
    (-20.0, 100.0, BIAS_CLOSING),
    (10.0, 100.0, BIAS_UNKNOWN),     # exactly at the 10% threshold: not called
    (-10.0, 100.0, BIAS_UNKNOWN),
    (10.5, 100.0, BIAS_OPENING),
    (5.0, 0.0, BIAS_UNKNOWN),        # no volume: no call
])
def test_bias_thresholds(delta, volume, bias):
    b, _ = open_close_bias(np.array([delta]), np.array([volume]), 0.10)
    assert int(b[0]) == bias


def test_bias_confidence_hand_case():
    _, conf = open_close_bias(np.array([20.0, -300.0, 0.0, 7.0]), np.array([100.0, 200.0, 50.0, 0.0]), 0.10)
    np.testing.assert_allclose(conf, [0.2 * (1 - math.exp(-2.0)), 1.0 * (1 - math.exp(-4.0)), 0.0, 0.0])


# --------------------------------------------------------------------------- properties
unit = st.floats(0.0, 1.0)


@PROPERTY
@given(fractions=st.lists(st.floats(-2.0, 3.0), min_size=1, max_size=30),
       aggressors=st.lists(st.sampled_from([ABOVE_ASK, AT_ASK, MID, AT_BID, BELOW_BID, UNKNOWN]), min_size=30,
                           max_size=30),
       p0=unit, p1=unit, boost=st.floats(-1.0, 1.0), shrink=unit)
def test_open_probability_stays_within_2_and_98_percent(fractions, aggressors, p0, p1, boost, shrink):
    f = np.array(fractions)
    a = np.array(aggressors[: len(f)], dtype=np.int8)
    p = open_probability(f, a, p_open_at_open=p0, p_open_at_close=p1, aggressor_boost=boost, mid_shrink=shrink)
    assert np.all((p >= 0.02) & (p <= 0.98))


@PROPERTY
@given(fractions=st.lists(st.floats(-0.5, 1.5), min_size=2, max_size=30),
       aggressor=st.sampled_from([ABOVE_ASK, AT_ASK, MID, AT_BID, BELOW_BID, UNKNOWN]),
       p0=unit, drop=unit, boost=st.floats(-0.2, 0.2), shrink=unit)
def test_open_probability_never_rises_through_the_session(fractions, aggressor, p0, drop, boost, shrink):
    """Whenever P(open) at the open >= at the close (the model's premise), later prints are no more
    likely to open, for every aggressor label."""
    f = np.sort(np.array(fractions))
    a = np.full(len(f), aggressor, dtype=np.int8)
    p = open_probability(f, a, p_open_at_open=p0, p_open_at_close=p0 * (1 - drop), aggressor_boost=boost,
                         mid_shrink=shrink)
    assert np.all(np.diff(p) <= 1e-15)


@PROPERTY
@given(st.data())
def test_effective_oi_is_never_negative_whatever_the_flow(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(1, 8))
    settled = rng.integers(0, 200, n)
    net = np.zeros(n)
    for _ in range(data.draw(st.integers(1, 12))):
        k = int(rng.integers(1, 50))
        contract = rng.integers(0, n, k)
        size = np.where(rng.random(k) < 0.2, 10**7, rng.integers(1, 500, k)).astype(np.float64)  # huge closes too
        fraction = rng.uniform(0.0, 1.0, k)
        aggr = rng.choice([ABOVE_ASK, AT_ASK, MID, AT_BID, BELOW_BID, UNKNOWN], k).astype(np.int8)
        p = open_probability(fraction, aggr, **DEFAULTS)
        d = expected_oi_change(size, p)
        net = floored_oi_path(settled + net, contract, np.arange(k, dtype=np.int64), np.zeros(k, dtype=np.int64),
                              d, 1)[0] - settled
        eff = effective_oi(settled, net)
        assert np.all(eff >= 0.0)
        assert np.all(net >= -settled)
        np.testing.assert_array_equal(eff, settled + net)  # the floor lives in the delta


@PROPERTY
@given(delta=st.floats(-1e6, 1e6), volume=st.one_of(st.just(0.0), st.floats(1.0, 1e6)),  # contracts: 0 or >= 1
       threshold=st.floats(0.0, 1.0))
def test_bias_matches_its_threshold_rule_and_confidence_is_a_fraction(delta, volume, threshold):
    b, conf = open_close_bias(np.array([delta]), np.array([volume]), threshold)
    ratio = delta / volume if volume > 0 else 0.0
    expected = BIAS_OPENING if ratio > threshold else BIAS_CLOSING if ratio < -threshold else BIAS_UNKNOWN
    assert int(b[0]) == expected
    assert 0.0 <= conf[0] <= 1.0


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.data())
def test_floored_oi_path_equals_a_print_by_print_loop(data):
    """oi.floored_oi_path (closed-form Lindley, vectorized) == y = max(y + d, 0) print by print."""
    n = data.draw(st.integers(1, 5))
    k = data.draw(st.integers(0, 40))
    n_slots = data.draw(st.integers(1, 4))
    start = np.array(data.draw(st.lists(st.floats(0, 50), min_size=n, max_size=n)))
    contract = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)), dtype=np.int32)
    d = np.array(data.draw(st.lists(st.floats(-30, 30), min_size=k, max_size=k)))
    ts = np.arange(k, dtype=np.int64) * 10
    slot = np.sort(np.array(data.draw(st.lists(st.integers(0, n_slots - 1), min_size=k, max_size=k)), dtype=np.int64))
    got = oi.floored_oi_path(start, contract, ts, slot, d, n_slots)
    y = start.copy()
    expected = np.empty((n_slots, n))
    i = 0
    for s in range(n_slots):
        while i < k and slot[i] == s:
            y[contract[i]] = max(y[contract[i]] + d[i], 0.0)
            i += 1
        expected[s] = y
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert (got >= 0).all()
