"""Words with hysteresis (docs/decision-layer.md, "Hysteresis"): regime, headline and setup labels
change only when their input crosses a threshold by a documented margin or for a documented time.
The decision functions are pure (the previous labels are an argument); LabelMemory holds them."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.engine.decision import (
    NO_PREVIOUS,
    PIN_SCORE_MARGIN,
    PIN_TRADE_MIN_SCORE,
    REGIME_DWELL_MINUTES,
    LabelMemory,
    PreviousLabels,
    classify_setups,
    decide,
    flow_direction,
    flow_phrase,
    hysteretic_regime,
    labels_of,
)

from .decision_scenarios import pin_into_close


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
