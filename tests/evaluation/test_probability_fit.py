"""`zdte calibrate`: (prediction, outcome) pairs from replayed recordings, the fitted file, its errors,
and the service picking the file up through ``[probabilities] calibration_file``."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.commands import write_simulated_day
from zdte_tui.config import default_settings
from zdte_tui.engine.calibration import fit_calibration, load_calibration, save_calibration
from zdte_tui.engine.probabilities import PROBABILITY_TARGETS
from zdte_tui.errors import UserError
from zdte_tui.evaluation.probability_fit import (
    DEFAULT_TIMES_ET,
    CalibrationError,
    band_outcome,
    collect_observations,
    collect_pairs,
    realized_close,
    run_calibration,
    split_holdout,
)
from zdte_tui.market.calendar import et_clock_to_ns, session_bounds_ns
from zdte_tui.service import FlowService
from zdte_tui.sources.replay import ReplaySource
from zdte_tui.store.reader import Recording
from zdte_tui.store.writer import write_recording

SESSION = dt.date(2025, 6, 13)  # a Friday, full session
NS = 1_000_000_000


@pytest.fixture(scope="module")
def iwm_day(tmp_path_factory):
    """One simulated IWM session (the smallest built-in profile: ~70k prints), with truth."""
    path = tmp_path_factory.mktemp("cal") / "iwm.parquet"
    write_simulated_day(path, ["IWM"], session_date=SESSION, seed=7, scenario="auto")
    return path


@pytest.fixture(scope="module")
def iwm_observations(iwm_day):
    return collect_observations(iwm_day)


# ------------------------------------------------------------------------------ outcomes
def test_band_outcome_counts_both_edges_of_the_band():
    assert band_outcome(100.0, [99.5, 100.5]) == 1.0
    assert band_outcome(99.5, [99.5, 100.5]) == 1.0
    assert band_outcome(100.5, [99.5, 100.5]) == 1.0
    assert band_outcome(100.51, [99.5, 100.5]) == 0.0


def test_realized_close_is_the_last_print_at_or_before_the_close():
    close_ns = 1_000 * NS
    ts = np.array([10, 999, 1_000, 1_001], dtype=np.int64) * NS
    px = np.array([1.0, 2.0, 3.0, 4.0])
    assert realized_close(ts, px, close_ns) == 3.0
    assert realized_close(ts[:2], px[:2], close_ns) == 2.0           # 1 s early: still the close
    assert realized_close(ts[:1], px[:1], close_ns) is None          # stops 990 s early: unknown


@given(st.floats(1, 1000), st.floats(0, 50), st.floats(0, 50))
def test_property_outcome_is_one_exactly_inside_the_closed_band(close, below, above):
    lo, hi = close - below, close + above
    assert band_outcome(close, [lo, hi]) == 1.0
    assert band_outcome(close, [hi + 1.0, hi + 2.0]) == 0.0
    assert band_outcome(close, [lo - 2.0, lo - 1.0]) == 0.0


# ------------------------------------------------------------------------------ pairs
def test_collect_pairs_gives_probabilities_and_binary_outcomes(iwm_day):
    pairs = collect_pairs(iwm_day)
    assert set(pairs) <= set(PROBABILITY_TARGETS) and {"range_1sigma", "range_2sigma"} <= set(pairs)
    for target, (pred, outcome, baseline) in pairs.items():
        assert pred.shape == outcome.shape == baseline.shape and pred.size > 0
        assert np.all((pred >= 0) & (pred <= 1)), target
        assert set(np.unique(outcome)) <= {0.0, 1.0}, target
        assert np.all((baseline >= 0) & (baseline <= 1)), target
    # one snapshot per listed time inside the session, for each range target
    assert pairs["range_1sigma"][0].size == len(DEFAULT_TIMES_ET)


def test_a_close_inside_one_sigma_is_inside_two_sigma(iwm_observations):
    o = iwm_observations
    one, two = o.where(o.target == "range_1sigma"), o.where(o.target == "range_2sigma")
    assert list(one.time_et) == list(two.time_et)
    assert np.all(two.outcome >= one.outcome)
    assert np.all(two.predicted >= one.predicted - 1e-12)


def test_outcomes_match_the_recorded_close(iwm_day, iwm_observations):
    rec = Recording.open(iwm_day)
    _, close_ns = session_bounds_ns(SESSION)
    spot = rec.underlyings["IWM"].spot
    close = float(spot.price[np.searchsorted(spot.ts_ns, close_ns, side="right") - 1])
    o = iwm_observations
    # re-derive each outcome from an independent replay to the same time
    label = "12:00"
    svc = FlowService(ReplaySource(iwm_day, at=None, speed=None, recording=rec), settings=default_settings())
    for ev in rec.events(None, et_clock_to_ns(SESSION, label), 1800):
        svc.apply(ev)
    probs = svc.snapshot("IWM")["probabilities"]
    for target in PROBABILITY_TARGETS:
        row = o.where((o.time_et == label) & (o.target == target))
        if probs[target]["model_value"] is None:
            assert row.predicted.size == 0
            continue
        assert row.predicted[0] == pytest.approx(probs[target]["model_value"], abs=1e-12)
        lo, hi = probs[target]["band"]
        assert row.outcome[0] == (1.0 if lo <= close <= hi else 0.0)
    assert np.allclose(o.hours_to_close[o.time_et == "15:30"], 0.5)


def test_times_outside_the_session_are_ignored(iwm_day):
    o = collect_observations(iwm_day, times=("08:00", "12:00", "16:30"))
    assert set(o.time_et.tolist()) == {"12:00"}


def test_a_recording_that_stops_before_the_close_gives_no_pairs(iwm_day, tmp_path):
    rec = Recording.open(iwm_day)
    stop = et_clock_to_ns(SESSION, "12:00")
    short = write_recording(tmp_path / "short.parquet", rec.events(None, stop, 1800), source="sim", simulated=True,
                            session_date=SESSION, symbols=["IWM"])
    o = collect_observations(short)
    assert o.target.size == 0 and "before the 2025-06-13 close" in o.skipped[0]
    with pytest.raises(CalibrationError, match="no \\(prediction, outcome\\) pairs"):
        run_calibration([short], tmp_path / "cal.json")


# ------------------------------------------------------------------------------ fitting and files
def test_run_calibration_writes_a_loadable_file(iwm_day, tmp_path):
    out = tmp_path / "cal.json"
    summary = run_calibration([iwm_day], out)
    cal = load_calibration(out)
    assert cal.method == "isotonic" and cal.source == "cal.json"
    pairs = collect_pairs(iwm_day)
    assert set(cal.maps) == set(pairs)
    for target, (pred, _outcome, _b) in pairs.items():
        assert summary["targets"][target]["n"] == pred.size == cal.stats[target]["n"]
        # isotonic in-sample never does worse than the raw model (it includes the identity's ordering)
        assert summary["targets"][target]["brier_calibrated"] <= summary["targets"][target]["brier_model"] + 1e-12
        assert np.all(np.diff(cal.apply(target, np.linspace(0, 1, 21))) >= -1e-12)
    assert json.loads(out.read_text())["schema"] == "zdte-calibration-2"
    assert str(out) in str(summary) and "range_1sigma" in str(summary)
    # one recording: nothing is held out, so the model is validated nowhere
    assert summary["held_out_recordings"] == 0 and summary["held_out"] == {} and cal.selection == {}
    assert "value = baseline everywhere" in str(summary)


def test_held_out_comparison_per_bucket_is_saved_and_printed_with_a_reliability_table(iwm_day, tmp_path):
    out = tmp_path / "cal.json"
    summary = run_calibration([iwm_day], out, holdout=[iwm_day])
    cal = load_calibration(out)
    assert cal.selection == summary["held_out"] and set(cal.selection) == set(cal.maps)
    for buckets in summary["held_out"].values():
        assert set(buckets) <= {"<1h", "1-2h", "2-4h", ">=4h"}
        for c in buckets.values():
            # one day gives fewer than 20 pairs per bucket: never enough to prefer the model
            assert c["n"] < 20 and c["use_model"] is False
            assert c["brier_baseline"] is not None and c["log_loss_baseline"] is not None
    text = str(summary)
    assert "Brier cal" in text and "logloss base" in text and "reliability, held out, range_1sigma" in text
    assert "baseline (too few)" in text


def test_split_holdout_keeps_the_most_recent_third_out(iwm_day, tmp_path):
    assert split_holdout([iwm_day]) == ([iwm_day], [])
    copies = []
    for name in ("a.parquet", "b.parquet", "c.parquet"):
        (tmp_path / name).write_bytes(iwm_day.read_bytes())
        copies.append(tmp_path / name)
    train, held = split_holdout(copies)
    assert train == copies[:2] and held == copies[2:]


def test_run_calibration_platt_method(iwm_day, tmp_path):
    summary = run_calibration([iwm_day], tmp_path / "platt.json", method="platt")
    assert load_calibration(tmp_path / "platt.json").method == "platt" and summary["method"] == "platt"


def test_missing_recording_is_a_clear_user_error(tmp_path):
    missing = tmp_path / "nope.parquet"
    with pytest.raises(CalibrationError, match="recording not found: .*nope.parquet"):
        run_calibration([missing], tmp_path / "cal.json")
    assert issubclass(CalibrationError, UserError)  # the CLI prints it without a traceback
    assert not (tmp_path / "cal.json").exists()


def test_corrupt_recording_error_names_the_file(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(CalibrationError, match="bad.parquet"):
        collect_pairs(bad)


def test_cli_reports_a_missing_recording_and_exits_2(tmp_path, capsys, monkeypatch):
    from zdte_tui.cli import main

    monkeypatch.delenv("ZDTE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no config file: built-in defaults
    code = main(["calibrate", str(tmp_path / "gone.parquet"), "--out", str(tmp_path / "c.json")])
    assert code == 2
    assert "gone.parquet" in capsys.readouterr().err


def test_unknown_method_is_rejected(iwm_day, tmp_path):
    with pytest.raises(CalibrationError, match="unknown calibration method"):
        run_calibration([iwm_day], tmp_path / "c.json", method="beta")


# ------------------------------------------------------------------------------ the service uses the file
def test_service_loads_the_calibration_file_and_labels_its_output(iwm_day, tmp_path):
    path = tmp_path / "squash.json"
    # a map that sends every probability to 0.5 (all outcomes half the time): easy to recognise
    cal = fit_calibration({t: ([0.1, 0.9], [0.5, 0.5]) for t in PROBABILITY_TARGETS})
    # pretend the squash won on held-out data 4 h or more before the close (noon is 4 h before)
    save_calibration(cal.with_selection({"range_1sigma": {">=4h": {"use_model": True, "n": 40}},
                                         "range_2sigma": {">=4h": {"use_model": False, "n": 40}}}), path)
    base = default_settings()
    settings = base.model_copy(update={"probabilities": base.probabilities.model_copy(
        update={"calibration_file": str(path)})})
    rec = Recording.open(iwm_day)

    def snapshot_at_noon(s):
        svc = FlowService(ReplaySource(iwm_day, at=None, speed=None, recording=rec), settings=s)
        for ev in rec.events(None, et_clock_to_ns(SESSION, "12:00"), 1800):
            svc.apply(ev)
        return svc.snapshot("IWM")["probabilities"]

    plain, calibrated = snapshot_at_noon(base), snapshot_at_noon(settings)
    for target in ("range_1sigma", "range_2sigma"):
        assert plain[target]["calibration_method"] == "lognormal_baseline"
        assert plain[target]["value"] == plain[target]["baseline_value"]
        assert calibrated[target]["model_value"] == pytest.approx(plain[target]["model_value"])
    assert calibrated["range_1sigma"]["calibration_method"] == "isotonic:squash.json"
    assert calibrated["range_1sigma"]["value"] == pytest.approx(0.5)
    # where the model lost on held-out data the baseline is shown and the label says why
    assert calibrated["range_2sigma"]["calibration_method"] == "lognormal_baseline:lost_to_baseline"
    assert calibrated["range_2sigma"]["value"] == pytest.approx(plain["range_2sigma"]["baseline_value"])
