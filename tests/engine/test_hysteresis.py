"""Words with hysteresis (docs/decision-layer.md, "Hysteresis"): regime, headline and setup labels
change only when their input crosses a threshold by a documented margin or for a documented time.
The decision functions are pure (the previous labels are an argument); LabelMemory holds them."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.engine.decision import (
    FLOW_DWELL_MINUTES,
    NO_PREVIOUS,
    PIN_SCORE_MARGIN,
    PIN_TRADE_MIN_SCORE,
    REGIME_DWELL_MINUTES,
    SETUP_DWELL_MINUTES,
    SEVERITY_CALM_MINUTES,
    LabelMemory,
    PreviousLabels,
    classify_setups,
    decide,
    dwell_label,
    flow_direction,
    flow_phrase,
    headline,
    hysteretic_regime,
    labels_of,
)

from .decision_scenarios import pin_into_close, squeeze_through_call_wall


def _walk(inputs_seq):
    """Feed snapshots in order through a LabelMemory, like the FlowService does; the shown words."""
    memory = LabelMemory()
    shown = []
    for i, inputs in enumerate(inputs_seq):
        out = decide(inputs, memory.previous("SPY", i))
        memory.remember("SPY", i, labels_of(out))
        shown.append(out)
    return shown


def _pin_day(scores, minutes_left=30.0):
    base = pin_into_close()
    return [dataclasses.replace(base, pin_score=s, time_to_close_hours=(minutes_left - 0.5 * i) / 60)
            for i, s in enumerate(scores)]


def test_pin_score_oscillating_59_60_does_not_flip_the_headline():
    shown = _walk(_pin_day([60, 59, 60, 59, 60, 59, 58, 60]))
    assert {o["headline"]["trade_angle"] for o in shown} == {"pin_trade"}


def test_pin_trade_ends_once_the_score_falls_past_the_margin():
    exit_score = PIN_TRADE_MIN_SCORE - PIN_SCORE_MARGIN - 1          # 54
    shown = _walk(_pin_day([61, 57, 55, exit_score, 57, 59]))
    angles = [o["headline"]["trade_angle"] for o in shown]
    assert angles == ["pin_trade", "pin_trade", "pin_trade", "range_trade", "range_trade", "range_trade"]
    # and back in only at the threshold itself
    assert _walk(_pin_day([54, 59, 60]))[-1]["headline"]["trade_angle"] == "pin_trade"


def test_without_previous_labels_the_rules_are_the_plain_thresholds():
    assert decide(_pin_day([59])[0])["headline"]["trade_angle"] == "range_trade"
    assert decide(_pin_day([60])[0])["headline"]["trade_angle"] == "pin_trade"


def _gex_walk(net_values, gross=4e9, step_minutes=0.5):
    base = pin_into_close()
    return [dataclasses.replace(base, net_gex_live_usd=g, gross_gex_usd=gross,
                                time_to_close_hours=(60.0 - step_minutes * i) / 60.0)
            for i, g in enumerate(net_values)]


def test_net_gex_sign_noise_does_not_flip_the_regime():
    # +-10% of gross every 30 s: past the 5% margin, but never for 2 minutes running
    shown = _walk(_gex_walk([2e9] + [-0.4e9, 0.4e9] * 6))
    assert {o["headline"]["regime"] for o in shown} == {"positive_gamma"}


def test_regime_changes_after_the_new_sign_held_for_the_dwell_time():
    n = int(REGIME_DWELL_MINUTES / 0.5)                     # 4 samples of 30 s
    shown = _walk(_gex_walk([2e9] + [-0.4e9] * (n + 1)))
    regimes = [o["headline"]["regime"] for o in shown]
    assert regimes[: n + 1] == ["positive_gamma"] * (n + 1)
    assert regimes[n + 1] == "negative_gamma"
    pending = shown[1]["headline"]["regime_pending"]
    assert pending == {"regime": "negative_gamma", "since_minutes_to_close": pytest.approx(59.5)}


def test_a_decisive_flip_shows_at_once_and_the_margin_blocks_tiny_ones():
    assert _walk(_gex_walk([2e9, -1.2e9]))[-1]["headline"]["regime"] == "negative_gamma"   # 30% of gross
    tiny = _walk(_gex_walk([2e9] + [-0.1e9] * 10))                                        # 2.5% of gross
    assert {o["headline"]["regime"] for o in tiny} == {"positive_gamma"}
    assert all(o["headline"]["regime_pending"] is None for o in tiny)


@settings(max_examples=100, deadline=None)
@given(st.floats(-1e10, 1e10), st.floats(1e8, 1e10), st.sampled_from(["positive_gamma", "negative_gamma", None]))
def test_property_shown_regime_is_the_sign_or_the_previous_one_inside_the_rules(net, gross, prev):
    shown, pending, _ = hysteretic_regime(net, gross, 30.0, PreviousLabels(regime=prev))
    raw = "positive_gamma" if net > 0 else "negative_gamma" if net < 0 else "neutral"
    assert shown in (raw, prev)
    if shown != raw:            # held: only while the new sign is under the fast-flip size
        assert abs(net) < 0.25 * gross and pending in (None, raw)


def test_shown_setup_stays_primary_unless_another_is_clearly_better():
    inputs = pin_into_close()
    fresh = classify_setups(inputs)
    assert fresh["primary"]["id"] == "pin_iron_fly"
    alt = fresh["alternatives"][0]
    assert alt["confidence"] > fresh["primary"]["confidence"] - 0.10     # not clearly worse
    held = classify_setups(inputs, previous=PreviousLabels(setup_id=alt["id"]))
    assert held["primary"]["id"] == alt["id"]
    assert held["primary"]["confidence"] == alt["confidence"]           # confidence is today's evaluation
    assert "pin_iron_fly" in [a["id"] for a in held["alternatives"]]


@settings(max_examples=150, deadline=None)
@given(spot=st.floats(580, 600), mins=st.floats(0, 390), live=st.floats(-3e9, 3e9), settled=st.floats(-3e9, 3e9),
       pin=st.integers(0, 100), flow=st.integers(0, 500), magnet=st.floats(580, 600),
       prev_setup=st.sampled_from([None, "pin_iron_fly", "iron_condor_range", "fade_the_wall",
                                   "gamma_squeeze_breakout", "no_trade"]))
def test_property_a_setup_with_failed_hard_conditions_is_never_shown_at_100_percent(
        spot, mins, live, settled, pin, flow, magnet, prev_setup):
    inputs = dataclasses.replace(pin_into_close(), spot=spot, time_to_close_hours=mins / 60, net_gex_live_usd=live,
                                 net_gex_settled_usd=settled, pin_score=pin, contracts_with_flow=flow,
                                 total_abs_delta_contracts=100 * flow, magnet=magnet)
    out = classify_setups(inputs, previous=PreviousLabels(setup_id=prev_setup))
    for s in [out["primary"], *out["alternatives"], *out["anti_setups"]]:
        if s["conditions_failed"]:
            assert s["confidence"] < 1.0, s
    for s in [*out["alternatives"], *out["anti_setups"]]:
        assert s["confidence"] <= 1.0


@pytest.mark.parametrize(("settled", "live", "phrase"), [
    (1.6e9, 2.0e9, "flow reinforcing +GAMMA"), (2.0e9, 1.6e9, "flow eroding +GAMMA"),
    (-1.6e9, -2.0e9, "flow reinforcing -GAMMA"), (-2.0e9, -1.6e9, "flow eroding -GAMMA"),
    (1.0e9, -0.5e9, "flow flipped to -GAMMA"), (1.0e9, 1.01e9, "flow neutral")])
def test_flow_words_name_the_gamma_sign_they_act_on(settled, live, phrase):
    out = flow_direction(settled, live, 100, 1000)
    assert flow_phrase(out) == phrase
    # "amplifying" (the FlashAlpha label) never appears in the words next to a pin
    assert "amplifying" not in out["description"].lower() and "dampening" not in out["description"].lower()


def test_positive_gamma_growth_is_not_called_amplifying_next_to_a_stronger_pin():
    out = flow_direction(1.6e9, 2.0e9, 100, 1000)
    assert out["label"] == "amplifying"                     # API vocabulary unchanged
    assert out["description"].startswith("Reinforcing +GAMMA") and "stronger pin" in out["description"]


def test_label_memory_forgets_when_time_goes_backwards():
    memory = LabelMemory()
    memory.remember("SPY", 100, PreviousLabels(regime="negative_gamma"))
    assert memory.previous("SPY", 130).regime == "negative_gamma"
    assert memory.previous("SPY", 90) is NO_PREVIOUS
    assert memory.previous("QQQ", 130) is NO_PREVIOUS


# ---- dwell: a new word must hold for a documented time -----------------------------------------
def test_dwell_label_shows_a_new_reading_only_after_it_held_for_the_dwell():
    # shown "a"; reading "b" first seen 100 minutes before the close
    assert dwell_label("a", "b", 100.0, None, None, 2.0) == ("a", "b", 100.0)
    assert dwell_label("a", "b", 99.0, "b", 100.0, 2.0) == ("a", "b", 100.0)     # 1 minute: still held
    assert dwell_label("a", "b", 98.0, "b", 100.0, 2.0) == ("b", None, None)      # 2 minutes: shown
    assert dwell_label("a", "c", 98.0, "b", 100.0, 2.0) == ("a", "c", 98.0)       # a new reading restarts
    assert dwell_label(None, "b", 98.0, None, None, 2.0) == ("b", None, None)     # nothing shown yet
    assert dwell_label("a", "a", 98.0, "b", 100.0, 2.0) == ("a", None, None)      # back to the shown word


@settings(max_examples=200, deadline=None)
@given(readings=st.lists(st.sampled_from("abc"), min_size=1, max_size=60))
def test_property_every_change_of_a_dwelled_word_held_at_each_snapshot_for_the_dwell(readings):
    step, dwell = 0.5, 2.0
    shown, pending, since = None, None, None
    history = []
    for i, r in enumerate(readings):
        mins = 390.0 - i * step
        new, pending, since = dwell_label(shown, r, mins, pending, since, dwell)
        if shown is not None and new != shown:
            need = int(dwell / step)                      # the reading at this and the previous `need` snapshots
            assert i >= need and all(x == new for x in readings[i - need:i + 1])
        shown = new
        history.append(shown)
    assert history[0] == readings[0]


def _flow_walk(pairs, minutes0=200.0, step=0.5):
    """(settled, live) net GEX per snapshot, 30 s apart, through LabelMemory like the FlowService."""
    base = pin_into_close()
    return _walk([dataclasses.replace(base, net_gex_settled_usd=s, net_gex_live_usd=v,
                                      time_to_close_hours=(minutes0 - i * step) / 60.0)
                  for i, (s, v) in enumerate(pairs)])


def test_flow_label_flicker_between_readings_is_held():
    # live swings +-12% around settled every snapshot: readings amplifying, dampening, amplifying, ...
    pairs = [(2.0e9, 2.24e9 if i % 2 == 0 else 1.76e9) for i in range(12)]
    out = _flow_walk(pairs)
    assert out[0]["flow_direction"]["label"] == "amplifying"
    assert {o["flow_direction"]["label"] for o in out} == {"amplifying"}
    assert out[1]["flow_direction"]["reading"] == "dampening"
    assert out[1]["flow_direction"]["pending"]["label"] == "dampening"
    assert out[1]["flow_direction"]["description"].startswith("Holding 'amplifying'")


def test_a_steady_new_flow_reading_shows_after_the_flow_dwell():
    pairs = [(2.0e9, 2.4e9)] + [(2.0e9, 1.6e9)] * 6
    labels = [o["flow_direction"]["label"] for o in _flow_walk(pairs)]
    need = int(FLOW_DWELL_MINUTES / 0.5)                 # dampening first read at snapshot 1
    assert labels == ["amplifying"] * (1 + need) + ["dampening"] * (len(pairs) - 1 - need)


def test_the_first_flow_of_the_day_shows_at_once():
    out = _walk([dataclasses.replace(pin_into_close(), contracts_with_flow=0, time_to_close_hours=3.0),
                 dataclasses.replace(pin_into_close(), time_to_close_hours=2.99)])
    assert [o["flow_direction"]["label"] for o in out] == ["no_flow", "amplifying"]


def _with_minutes(inputs, minutes):
    return dataclasses.replace(inputs, time_to_close_hours=minutes / 60.0)


def test_a_new_primary_setup_waits_for_the_setup_dwell():
    pin = pin_into_close()
    assert classify_setups(pin)["primary"]["id"] == "pin_iron_fly"
    prev = PreviousLabels(setup_id="no_trade")
    first = classify_setups(_with_minutes(pin, 30.0), previous=prev)
    assert first["primary"]["id"] == "no_trade"
    assert first["pending"] == {"id": "pin_iron_fly", "since_minutes_to_close": 30.0}
    assert "waits" in first["primary"]["conditions_met"][0]
    prev = dataclasses.replace(prev, setup_pending="pin_iron_fly", setup_pending_since_minutes=30.0)
    assert classify_setups(_with_minutes(pin, 29.0), previous=prev)["primary"]["id"] == "no_trade"
    later = classify_setups(_with_minutes(pin, 30.0 - SETUP_DWELL_MINUTES), previous=prev)
    assert later["primary"]["id"] == "pin_iron_fly" and later["pending"] is None


def test_a_shown_play_that_fails_a_key_condition_gives_way_at_once():
    # the iron fly was shown; the book turned negative gamma (its key, severe condition fails)
    out = classify_setups(squeeze_through_call_wall(), previous=PreviousLabels(setup_id="pin_iron_fly"))
    assert out["primary"]["id"] != "pin_iron_fly" and out["pending"] is None
    assert "pin_iron_fly" in [a["id"] for a in out["anti_setups"]]


def test_an_alert_shows_at_once_and_steps_down_only_after_the_calm_time():
    chasing = squeeze_through_call_wall()
    calm = dataclasses.replace(chasing, hedge_flow_recent_bars_usd=(14e6, 9e6, 6e6, 4e6, 3e6, 2e6))
    assert headline(calm)["severity"] == "watch" and headline(chasing)["severity"] == "alert"
    seq = [_with_minutes(calm, 120.0), _with_minutes(chasing, 119.5)] + [
        _with_minutes(calm, 119.0 - 0.5 * i) for i in range(6)]
    sev = [o["headline"]["severity"] for o in _walk(seq)]
    need = int(SEVERITY_CALM_MINUTES / 0.5)
    assert sev == ["watch", "alert"] + ["alert"] * need + ["watch"] * (6 - need)
