"""Calibration: PAV isotonic fit, Platt scaling, Brier/reliability helpers, JSON round trip."""

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from zdte_tui.engine.calibration import (
    brier_score,
    fit_calibration,
    fit_platt,
    horizon_bucket,
    load_calibration,
    log_loss,
    pav_isotonic,
    reliability_table,
    save_calibration,
    select_model,
)


def test_pav_pools_adjacent_violators_hand_case():
    x, y = pav_isotonic([1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0])
    assert list(x) == [1, 2, 3, 4]
    assert list(y) == [1.0, 2.5, 2.5, 4.0]


def test_pav_weighted_and_tied_x_hand_case():
    # x=2 tie pools to (2+4)/2 = 3; then [5, 3] violates -> weighted (5*1 + 3*2)/3 = 11/3
    x, y = pav_isotonic([1, 2, 2, 3], [5.0, 2.0, 4.0, 6.0])
    assert list(x) == [1, 2, 3]
    assert y == pytest.approx([11 / 3, 11 / 3, 6.0])
    _, yw = pav_isotonic([1, 2], [3.0, 1.0], weight=[3.0, 1.0])
    assert yw == pytest.approx([2.5, 2.5])


@given(hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(0, 1)),
       st.randoms(use_true_random=False))
def test_property_pav_is_monotone_and_preserves_the_mean(y, rnd):
    x = np.array([rnd.random() for _ in range(y.size)])
    xk, yk = pav_isotonic(x, y)
    assert np.all(np.diff(yk) >= -1e-12)
    # every pooled block keeps the mean of its points
    counts = np.array([np.sum(x == v) for v in xk])
    assert float(np.sum(yk * counts)) == pytest.approx(float(np.sum(y)), abs=1e-9)


def test_brier_and_reliability_hand_case():
    assert brier_score([0.5, 1.0], [1, 1]) == pytest.approx(0.125)
    rows = reliability_table([0.05, 0.15, 0.12, 1.0], [0, 1, 0, 1], n_bins=10)
    assert rows[0] == {"bin_lo": 0.0, "bin_hi": pytest.approx(0.1), "count": 1, "mean_predicted": 0.05,
                       "observed_frequency": 0.0}
    assert rows[1]["count"] == 2 and rows[1]["mean_predicted"] == pytest.approx(0.135)
    assert rows[1]["observed_frequency"] == pytest.approx(0.5)
    assert rows[9]["count"] == 1 and rows[5]["mean_predicted"] is None


def _miscalibrated(seed, n):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.02, 0.98, n)
    outcome = (rng.uniform(size=n) < truth).astype(float)
    logit = np.log(truth / (1 - truth))
    overconfident = 1 / (1 + np.exp(-2.5 * logit + 0.7))   # too sharp and biased
    return overconfident, outcome


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_improves_out_of_sample_brier_on_a_miscalibrated_set(method):
    pred_train, y_train = _miscalibrated(7, 4000)
    pred_test, y_test = _miscalibrated(8, 4000)
    cal = fit_calibration({"pin": (pred_train, y_train)}, method=method)
    before = brier_score(pred_test, y_test)
    after = brier_score(cal.apply("pin", pred_test), y_test)
    assert after < before - 0.005
    stats = cal.stats["pin"]
    assert stats["n"] == 4000 and stats["brier_after"] < stats["brier_before"]


def test_calibrated_output_is_monotone_in_the_prediction():
    pred, y = _miscalibrated(3, 2000)
    grid = np.linspace(0, 1, 101)
    for method in ("isotonic", "platt"):
        cal = fit_calibration({"range_1sigma": (pred, y)}, method=method)
        assert np.all(np.diff(cal.apply("range_1sigma", grid)) >= -1e-12)


def test_platt_recovers_a_known_distortion():
    pred, y = _miscalibrated(11, 20000)
    m = fit_platt(pred, y)
    # pred = sigmoid(2.5 z - 0.7)  =>  z = (logit(pred) + 0.7) / 2.5 : a = 0.4, b = 0.28
    assert m.a == pytest.approx(0.4, abs=0.05) and m.b == pytest.approx(0.28, abs=0.08)


def test_save_and_load_round_trip(tmp_path):
    pred, y = _miscalibrated(5, 500)
    cal = fit_calibration({"pin": (pred, y), "range_2sigma": (pred, y)}, method="isotonic")
    path = tmp_path / "spy-cal.json"
    save_calibration(cal, path)
    loaded = load_calibration(path)
    assert loaded.label() == "isotonic:spy-cal.json"
    grid = np.linspace(0, 1, 11)
    assert loaded.apply("pin", grid) == pytest.approx(cal.apply("pin", grid))
    assert json.loads(path.read_text())["schema"] == "zdte-calibration-2"


def test_selection_round_trips_and_an_old_file_is_validated_nowhere(tmp_path):
    pred, y = _miscalibrated(5, 500)
    sel = {"pin": {"<1h": {"use_model": True, "n": 30, "brier_calibrated": 0.1, "brier_baseline": 0.2}}}
    cal = fit_calibration({"pin": (pred, y)}, method="isotonic").with_selection(sel)
    save_calibration(cal, tmp_path / "c.json")
    loaded = load_calibration(tmp_path / "c.json")
    assert loaded.selects_model("pin", 0.5) == (True, "")
    assert loaded.selects_model("pin", 1.5) == (False, "not_validated")
    old = json.loads((tmp_path / "c.json").read_text())
    old["schema"] = "zdte-calibration-1"
    del old["selection"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert load_calibration(tmp_path / "old.json").selects_model("pin", 0.5) == (False, "not_validated")


def test_log_loss_hand_case():
    # -(ln 0.8 + ln 0.5) / 2
    assert log_loss([0.8, 0.5], [1, 0]) == pytest.approx(-(math.log(0.8) + math.log(0.5)) / 2)


@pytest.mark.parametrize(("hours", "bucket"), [(0.0, "<1h"), (0.99, "<1h"), (1.0, "1-2h"), (3.9, "2-4h"),
                                                (4.0, ">=4h"), (6.5, ">=4h")])
def test_horizon_buckets_are_left_closed(hours, bucket):
    assert horizon_bucket(hours) == bucket


def test_model_is_selected_only_if_it_wins_on_brier_and_log_loss_with_enough_pairs():
    y = np.array([1.0, 0.0] * 15)
    sharp = np.where(y == 1, 0.8, 0.2)       # better on both scores
    flat = np.full(y.size, 0.5)
    assert select_model(sharp, flat, y)["use_model"] is True
    assert select_model(flat, sharp, y)["use_model"] is False
    assert select_model(sharp[:10], flat[:10], y[:10])["use_model"] is False  # < 20 pairs
    # lower Brier but a confident miss blows up the log-loss: not selected
    risky = sharp.copy()
    risky[[0, 2]] = 1e-9                       # two outcomes y = 1 predicted ~0
    out = select_model(risky, flat, y)
    assert out["brier_calibrated"] < out["brier_baseline"] and out["log_loss_calibrated"] > out["log_loss_baseline"]
    assert out["use_model"] is False


def test_load_rejects_a_bad_file_naming_the_key(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"schema": "zdte-calibration-1", "method": "isotonic",
                                "targets": {"pin": {"method": "spline"}}}))
    with pytest.raises(ValueError, match=r"bad.json: .*targets.pin.method"):
        load_calibration(path)


def test_a_small_noisy_brier_gain_is_not_enough_to_serve_the_model():
    # 40 pairs: the model is slightly better on average but the paired gain is within 2 SE
    y = np.array([1.0, 0.0] * 20)
    base = np.full(y.size, 0.5)
    model = np.where(np.arange(y.size) % 4 < 2, np.where(y == 1, 0.62, 0.38), np.where(y == 1, 0.42, 0.58))
    out = select_model(model, base, y)
    assert out["brier_diff"] < 0 and out["log_loss_calibrated"] < out["log_loss_baseline"]
    assert out["brier_diff"] + 2 * out["brier_diff_se"] >= 0
    assert out["use_model"] is False
