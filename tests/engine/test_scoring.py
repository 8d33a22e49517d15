"""Signal scoring: hand-computed score, exact component sums, conviction, tags and intent."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from zdte_tui.engine.scoring import (
    AGGRESSOR_ABOVE_ASK,
    AGGRESSOR_AT_ASK,
    AGGRESSOR_AT_BID,
    AGGRESSOR_BELOW_BID,
    AGGRESSOR_MID,
    AGGRESSOR_UNKNOWN,
    BIAS_CLOSING,
    BIAS_OPENING,
    BIAS_UNKNOWN,
    SCORE_COMPONENT_CAPS,
    SIDE_BUY,
    SIDE_MID,
    SIDE_SELL,
    conviction,
    golden_mask,
    score_signals,
    signal_intent,
    signal_tags,
)


def test_hand_computed_opening_call_sweep():
    # premium: 30*log10(1.86e6/1e4)/log10(500) = 25.23 -> 25; size/OI = 1500/6000 -> 20*sqrt(.25) = 10
    # buy above ask 15; sweep 12; opening 10; tenor 13*exp(-0.7) = 6.46 -> 6   => 78
    score, bd = score_signals([1.86e6], [1500], [6000], [AGGRESSOR_ABOVE_ASK], [True], [BIAS_OPENING], [7],
                              [SIDE_BUY])
    assert {k: int(v[0]) for k, v in bd.items()} == {
        "premium": 25, "size_vs_oi": 10, "aggressor": 15, "sweep": 12, "opening_bias": 10, "tenor": 6}
    assert int(score[0]) == 78


def test_nothing_notable_scores_zero():
    score, bd = score_signals([5_000], [10], [np.nan], [AGGRESSOR_UNKNOWN], [False], [BIAS_CLOSING], [400],
                              [SIDE_BUY])
    assert int(score[0]) == 0 and all(int(v[0]) == 0 for v in bd.values())


@pytest.mark.parametrize("side, aggressor, points", [
    (SIDE_BUY, AGGRESSOR_ABOVE_ASK, 15), (SIDE_BUY, AGGRESSOR_AT_ASK, 12),
    (SIDE_SELL, AGGRESSOR_BELOW_BID, 15), (SIDE_SELL, AGGRESSOR_AT_BID, 12),
    (SIDE_BUY, AGGRESSOR_MID, 4), (SIDE_MID, AGGRESSOR_AT_ASK, 4),
    (SIDE_BUY, AGGRESSOR_AT_BID, 2), (SIDE_SELL, AGGRESSOR_ABOVE_ASK, 2),
    (SIDE_SELL, AGGRESSOR_UNKNOWN, 0),
])
def test_aggressor_points_weight_conviction_in_the_trades_own_direction(side, aggressor, points):
    _, bd = score_signals([1e5], [10], [100], [aggressor], [False], [BIAS_UNKNOWN], [0], [side])
    assert int(bd["aggressor"][0]) == points


def test_new_contract_with_zero_oi_scores_full_size_vs_oi():
    _, bd = score_signals([1e5], [50], [0], [AGGRESSOR_AT_ASK], [False], [BIAS_OPENING], [0], [SIDE_BUY])
    assert int(bd["size_vs_oi"][0]) == 20


@given(n=st.integers(1, 40), data=st.data())
def test_property_components_sum_exactly_to_a_0_100_score(n, data):
    f = hnp.arrays(np.float64, n, elements=st.floats(allow_nan=True, allow_infinity=True))
    premium, size, oi, dte = (data.draw(f) for _ in range(4))
    agg = data.draw(hnp.arrays(np.int64, n, elements=st.sampled_from([2, 1, 0, -1, -2, -9])))
    sweep = data.draw(hnp.arrays(bool, n))
    bias = data.draw(hnp.arrays(np.int64, n, elements=st.sampled_from([1, 0, -1])))
    side = data.draw(hnp.arrays(np.int64, n, elements=st.sampled_from([1, 0, -1])))
    score, bd = score_signals(premium, size, oi, agg, sweep, bias, dte, side)
    assert score.dtype.kind == "i" and score.shape == (n,)
    assert np.array_equal(sum(bd.values()), score)
    assert np.all((0 <= score) & (score <= 100))
    for name, cap in SCORE_COMPONENT_CAPS.items():
        assert np.all((0 <= bd[name]) & (bd[name] <= cap))


def test_conviction_thresholds():
    assert list(conviction([0, 39, 40, 69, 70, 100])) == ["low", "low", "medium", "medium", "high", "high"]


def test_tags_include_structure_bias_tenor_and_whale_at_one_million():
    tags = signal_tags([1e6, 999_999.0], [True, False], [BIAS_OPENING, BIAS_CLOSING], [0, 3], [50, 50])
    assert tags == [["sweep", "opening", "0dte", "whale"], ["block", "closing"]]


def test_golden_is_top_decile_of_the_response_and_at_least_70():
    scores = np.array([95, 88] + [60] * 18)          # n=20 -> top decile = top 2
    assert list(np.nonzero(golden_mask(scores))[0]) == [0, 1]
    weak = np.array([69, 65, 50])                     # top decile exists but nothing reaches 70
    assert not golden_mask(weak).any()
    ties = np.array([80, 80, 80, 10, 10])             # k = 1, ties at the threshold all qualify
    assert golden_mask(ties).sum() == 3
    assert "golden" in signal_tags([1e5] * 20, [False] * 20, [0] * 20, [5] * 20, scores)[0]
    # a precomputed boolean mask is used as is
    mask = golden_mask(scores)
    assert signal_tags([1e5] * 20, [False] * 20, [0] * 20, [5] * 20, mask) == \
        signal_tags([1e5] * 20, [False] * 20, [0] * 20, [5] * 20, scores)


@pytest.mark.parametrize("right, side, bias, intent", [
    ("C", SIDE_BUY, BIAS_OPENING, "bullish"),
    ("P", SIDE_SELL, BIAS_OPENING, "bullish"),
    ("P", SIDE_BUY, BIAS_OPENING, "bearish"),
    ("C", SIDE_SELL, BIAS_OPENING, "bearish"),
    ("C", SIDE_BUY, BIAS_UNKNOWN, "bullish"),
    ("P", SIDE_BUY, BIAS_UNKNOWN, "bearish"),
    ("C", SIDE_BUY, BIAS_CLOSING, "neutral"),
    ("P", SIDE_SELL, BIAS_CLOSING, "neutral"),
    ("C", SIDE_MID, BIAS_OPENING, "neutral"),
    ("P", SIDE_MID, BIAS_UNKNOWN, "neutral"),
])
def test_intent_rules_table(right, side, bias, intent):
    assert signal_intent([right], [side], [bias])[0] == intent


def test_intent_is_vectorized_and_accepts_bool_is_call():
    out = signal_intent(np.array([True, False, True]), [SIDE_BUY, SIDE_BUY, SIDE_SELL], [0, 0, 0])
    assert list(out) == ["bullish", "bearish", "bearish"]


def test_premium_component_is_logarithmic_between_10k_and_5m():
    _, bd = score_signals([1e4, 1e5, 5e6, 5e7], [1] * 4, [1e6] * 4, [0] * 4, [False] * 4, [0] * 4, [0] * 4,
                          [0] * 4)
    expected = [0, math.floor(30 * 1 / math.log10(500) + 0.5), 30, 30]
    assert list(bd["premium"]) == expected
