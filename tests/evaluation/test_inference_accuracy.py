"""The engine's open/close inference and trade classification scored against the simulator's truth.

Regression guards: the thresholds sit well below what ``python benchmarks/accuracy.py`` measures
(docs/accuracy.md): they fail when the inference breaks, not when it drifts a little."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from zdte_tui.engine.oi import open_close_bias
from zdte_tui.evaluation.inference_accuracy import inference_accuracy, measure_inference_accuracy


def _score(**overrides):
    base = dict(net_oi_delta_est=[50.0, -20.0, 0.0, 5.0], volume=[100.0, 100.0, 0.0, 200.0],
                settled_oi=[1000, 500, 300, 50], effective_oi=[1050.0, 480.0, 300.0, 55.0],
                oi_eod_true=[1080, 530, 300, 50], bias_est=[1, -1, 0, 0], bias_threshold=0.10,
                print_side_est=[1, -1, 0, 1], print_side_true=[1, 1, -1, 1], print_size=[10, 20, 30, 40])
    base.update(overrides)
    return inference_accuracy(**base)


def test_inference_accuracy_hand_computed_case():
    r = _score()
    # true deltas: +80, +30, 0, 0 -> true bias (threshold 10% of volume): opening, opening, -, unknown
    assert r["contracts_traded"] == 3 and r["volume"] == 400.0
    # labels right on contract 0 (100) and contract 3 (200, unknown = unknown) -> 300 / 400
    assert r["bias_label_accuracy_volume_weighted"] == pytest.approx(0.75)
    # both labels non-unknown on contracts 0 and 1 -> right on 100 of 200
    assert r["bias_sign_accuracy_volume_weighted"] == pytest.approx(0.5)
    assert r["bias_sign_coverage_volume_weighted"] == pytest.approx(0.5)
    assert r["bias_majority_baseline_volume_weighted"] == pytest.approx(0.5)  # opening 200 vs unknown 200
    # sign(est) vs sign(true) where true != 0: contract 0 right, contract 1 wrong
    assert r["delta_sign_accuracy_volume_weighted"] == pytest.approx(0.5)
    assert r["delta_sign_majority_baseline_volume_weighted"] == pytest.approx(1.0)  # both true changes > 0
    assert r["delta_mae_over_volume"] == pytest.approx((30 + 50 + 5) / 400)
    assert r["true_abs_delta_over_volume"] == pytest.approx(110 / 400)
    assert r["net_opening_ratio"] == pytest.approx(35 / 110)
    assert r["effective_oi_abs_error"] == pytest.approx(30 + 50 + 0 + 5)
    assert r["settled_oi_abs_error"] == pytest.approx(80 + 30 + 0 + 0)
    assert r["effective_oi_closer_share"] == pytest.approx(1 / 3)  # only contract 0
    # prints: right on 0 and 3; print 2 is unattributed (mid)
    assert r["side_accuracy"] == pytest.approx(0.5)
    assert r["side_accuracy_size_weighted"] == pytest.approx(50 / 100)
    assert r["side_accuracy_classified"] == pytest.approx(2 / 3)
    assert r["side_coverage"] == pytest.approx(0.75)
    assert r["side_majority_baseline"] == pytest.approx(0.75)  # three buys, one sell
    conf = np.asarray(r["bias_confusion_volume_share"])
    assert conf.sum() == pytest.approx(1.0)
    assert conf[2, 2] == pytest.approx(0.25) and conf[0, 2] == pytest.approx(0.25) and conf[1, 1] == 0.5


def test_misaligned_print_sides_are_refused():
    with pytest.raises(ValueError, match="not aligned"):
        _score(print_side_est=[1, -1])


@given(hnp.arrays(np.int64, st.integers(3, 40), elements=st.integers(0, 5000)),
       st.data())
def test_property_perfect_inference_scores_perfectly(settled, data):
    n = settled.size
    vol = data.draw(hnp.arrays(np.float64, n, elements=st.floats(1, 1000)))
    delta = data.draw(hnp.arrays(np.int64, n, elements=st.integers(-500, 500)))
    true_eod = np.maximum(settled + delta, 0)
    true_delta = (true_eod - settled).astype(np.float64)
    sides = data.draw(hnp.arrays(np.int8, 25, elements=st.sampled_from([-1, 1])))
    bias, _ = open_close_bias(true_delta, vol, 0.1)
    r = inference_accuracy(net_oi_delta_est=true_delta, volume=vol, settled_oi=settled, effective_oi=true_eod,
                           oi_eod_true=true_eod, bias_est=bias, bias_threshold=0.1, print_side_est=sides,
                           print_side_true=sides, print_size=np.ones(25))
    assert r["bias_label_accuracy_volume_weighted"] == pytest.approx(1.0)
    assert r["side_accuracy"] == 1.0 and r["side_coverage"] == 1.0
    assert r["delta_mae_over_volume"] == 0.0 and r["effective_oi_abs_error"] == 0.0
    assert r["bias_majority_baseline_volume_weighted"] <= 1.0 + 1e-12
    if r["delta_sign_accuracy_volume_weighted"] is not None:
        assert r["delta_sign_accuracy_volume_weighted"] == pytest.approx(1.0)
    if r["delta_correlation"] is not None:
        assert r["delta_correlation"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------ one simulated day
@pytest.fixture(scope="module")
def spy_day():
    """A full simulated SPY session (seed 5, trend; ~420k prints), scored at the close. Its open/close
    truth follows positions (docs/simulator.md), a different family from the engine's linear prior."""
    return measure_inference_accuracy("SPY", dt.date(2025, 6, 13), seed=5, scenario="trend")


def test_print_sides_mostly_match_the_customer_side(spy_day):
    # measured on this day: 0.65 of all prints (mid prints count as wrong), 0.82 of classified prints
    assert spy_day["side_accuracy"] > 0.55
    assert spy_day["side_accuracy_classified"] > 0.72
    assert spy_day["side_coverage"] > 0.6
    assert spy_day["side_accuracy_classified"] > spy_day["side_majority_baseline"] + 0.15


def test_effective_oi_is_closer_to_the_true_close_oi_than_settled_oi(spy_day):
    # measured: 736k vs 801k contracts of absolute error (closer on half the traded contracts)
    assert spy_day["effective_oi_abs_error"] < spy_day["settled_oi_abs_error"]


def test_open_close_labels_are_right_where_called(spy_day):
    # measured: where both call one, opening vs closing is right on 0.97 of the volume; the OI change's
    # sign is right on 0.81 (corr 0.41). Below chance, and not asserted: the 3-way labels (0.34 vs 0.73
    # for always "opening") and the sign (0.81 vs 0.89); docs/accuracy.md reports both with intervals.
    assert spy_day["bias_sign_accuracy_volume_weighted"] > 0.9
    assert spy_day["delta_sign_accuracy_volume_weighted"] > 0.65
    assert spy_day["delta_correlation"] > 0.2
    assert spy_day["delta_mae_over_volume"] < spy_day["true_abs_delta_over_volume"]


def test_oi_accuracy_at_hand_computed_case():
    from zdte_tui.evaluation.inference_accuracy import oi_accuracy_at

    # a call and a put, gamma 0.01 each, spot 100: GEX per contract-OI = 0.01 * 100 * 100^2 * 0.01 = 100 $
    r = oi_accuracy_at(effective_oi=[120.0, 90.0], settled_oi=[100, 100], true_oi=[130, 70], volume=[50, 50],
                       gamma=[0.01, 0.01], is_call=[True, False], spot=100.0,
                       dealer_convention="long_calls_short_puts",
                       engine_position=[120.0, -90.0], true_dealer_position=[-30.0, 20.0])
    assert r["oi_abs_error_pct_of_true"] == pytest.approx(100 * (10 + 20) / 200)
    assert r["settled_abs_error_pct_of_true"] == pytest.approx(100 * (30 + 30) / 200)
    assert r["net_gex_effective_usd"] == pytest.approx(100 * (120 - 90))
    assert r["net_gex_true_usd"] == pytest.approx(100 * (130 - 70))
    assert r["net_gex_settled_usd"] == pytest.approx(0.0)
    assert r["net_gex_error_pct_of_gross"] == pytest.approx(100 * 3000 / 20000)
    assert r["regime_agrees"] == 1.0
    assert r["net_gex_true_dealer_usd"] == pytest.approx(100 * (-30 + 20))
    assert r["net_gex_vs_true_dealer_error_pct_of_gross"] == pytest.approx(100 * (3000 + 1000) / 5000)
    assert r["regime_agrees_true_dealer"] == 0.0
