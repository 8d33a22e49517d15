"""Headline (angle, severity, narrative), pin score and leaderboard metrics."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.engine.decision import (
    SEVERITIES,
    TRADE_ANGLES,
    headline,
    hedge_flow_trend,
    leaderboard_metrics,
    pin_score,
    pin_score_components,
)

from .decision_scenarios import flip_cross_down, low_signal_morning, pin_into_close, squeeze_through_call_wall

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def test_pin_locking_into_the_close_is_an_alert_naming_the_strike_and_odds():
    h = headline(pin_into_close())
    assert (h["trade_angle"], h["severity"]) == ("pin_trade", "alert")
    assert h["narrative"] == "Positive gamma, pin at 590 locking in: 72% pin odds, 30 min left"


def test_pin_severity_escalates_as_the_close_nears():
    base = dataclasses.replace(pin_into_close(), pin_score=80, gamma_flip=570.0)
    by_hours = {hours: headline(dataclasses.replace(base, time_to_close_hours=hours))["severity"]
                for hours in (4.0, 1.5, 0.5)}
    assert by_hours == {4.0: "info", 1.5: "watch", 0.5: "alert"}


def test_squeeze_headline_says_dealers_are_chasing_through_the_wall():
    h = headline(squeeze_through_call_wall())
    assert (h["trade_angle"], h["severity"]) == ("breakout_risk", "alert")
    assert "through call wall 595" in h["narrative"] and "chasing upside" in h["narrative"]


def test_flip_cross_is_an_alert():
    h = headline(flip_cross_down())
    assert (h["trade_angle"], h["severity"]) == ("breakout_risk", "alert")
    assert "crossed below gamma flip 588.50" in h["narrative"]


def test_spot_within_a_quarter_sigma_of_the_flip_is_an_alert_without_a_cross():
    near = dataclasses.replace(pin_into_close(), spot=584.2, spot_recent_start=584.4, pin_score=20)
    h = headline(near)  # flip 584, sigma 1.2: 0.17 sigma away, no cross
    assert (h["trade_angle"], h["severity"]) == ("breakout_risk", "alert")
    assert h["distance_to_flip_sigmas"] == pytest.approx(0.2 / 1.2)


def test_low_signal_headline():
    h = headline(low_signal_morning())
    assert (h["trade_angle"], h["severity"]) == ("low_signal", "info")
    assert h["narrative"].startswith("Low signal: no intraday flow yet")


def test_positive_gamma_without_a_pin_is_a_range_trade():
    mid = dataclasses.replace(pin_into_close(), pin_score=35, time_to_close_hours=3.0, spot=591.5,
                              spot_recent_start=591.0)
    h = headline(mid)
    assert (h["trade_angle"], h["severity"]) == ("range_trade", "info")
    assert "range 585-595" in h["narrative"]


@given(spot=st.floats(570, 610), hours=st.floats(0, 6.5), gex=st.floats(-3e9, 3e9),
       pin=st.integers(0, 100), flip=st.one_of(st.none(), st.floats(570, 610)))
def test_property_headline_vocabulary(spot, hours, gex, pin, flip):
    inp = dataclasses.replace(pin_into_close(), spot=spot, time_to_close_hours=hours, net_gex_live_usd=gex,
                              pin_score=pin, gamma_flip=flip)
    h = headline(inp)
    assert h["trade_angle"] in TRADE_ANGLES and h["severity"] in SEVERITIES
    assert isinstance(h["narrative"], str) and h["narrative"]


# ---- pin score -------------------------------------------------------------------------------
def test_pin_score_hand_case():
    # top3 OI 30% -> 25*(20/40)=12.5 -> 13; at the magnet -> 25; 3.25h of 6.5h left -> 25*0.25=6.25 -> 6;
    # magnet GEX 10% of gross -> 25*0.4 = 10
    score, comps = pin_score(590.0, 590.0, 3.25, 6.5, 1.5, 30.0, 1e8, 1e9)
    assert comps == {"oi_score": 13, "proximity_score": 25, "time_score": 6, "gamma_score": 10}
    assert score == 54


def test_pin_score_unknown_magnet_scores_no_proximity_and_negative_magnet_gex_no_gamma():
    _, comps = pin_score(590.0, None, 1.0, 6.5, 1.0, 50.0, -5e8, 1e9)
    assert comps["proximity_score"] == 0 and comps["gamma_score"] == 0


@given(spot=st.floats(500, 700), magnet=st.floats(500, 700), hours=st.floats(0, 7), sigma=st.floats(0, 20),
       top3=st.floats(0, 100), mg=st.floats(-1e10, 1e10), gross=st.floats(0, 1e10))
def test_property_pin_components_are_0_to_25_and_sum_to_the_score(spot, magnet, hours, sigma, top3, mg, gross):
    c = pin_score_components(spot, magnet, hours, 6.5, sigma, top3, mg, gross)
    parts = [int(c[k]) for k in ("oi_score", "proximity_score", "time_score", "gamma_score")]
    assert all(0 <= p <= 25 for p in parts)
    assert sum(parts) == int(c["pin_score"])


# ---- hedge flow and leaderboard ----------------------------------------------------------------
def test_hedge_flow_trend_detects_same_sign_acceleration():
    t = hedge_flow_trend([2e6, 3e6, 4e6, 6e6, 9e6, 14e6])
    assert t["direction"] == 1 and t["accelerating"]
    assert t["acceleration_ratio"] == pytest.approx((29 / 3) / 3.0)
    flat = hedge_flow_trend([5e6, -5e6, 5e6, -4e6])
    assert not flat["accelerating"]


def test_leaderboard_metrics_hand_case():
    m = leaderboard_metrics(hedge_flow_cumulative_usd=-4e8, net_gex_usd=2e9, pin_score_value=77,
                            call_hedge_bars_usd=np.array([1e6, -2e6, 3e6]),
                            put_hedge_bars_usd=np.array([-1e6, -1e6, 5e5]), charm_usd_per_hour=-3.5e6, n_bars=2)
    assert m == {"heat": pytest.approx(0.2), "pin_risk": 77, "abs_flow": pytest.approx(5e6 + 1.5e6),
                 "charm_intensity": pytest.approx(3.5e6)}
    # a zero net GEX uses the $1M epsilon instead of dividing by zero
    assert leaderboard_metrics(3e6, 0.0, 0, [], [], None)["heat"] == pytest.approx(3.0)


def test_range_narrative_when_call_and_put_walls_coincide():
    import dataclasses

    from zdte_tui.engine.decision import DecisionInputs, headline

    base = DecisionInputs(spot=228.7, time_to_close_hours=5.5, net_gex_live_usd=5e7, net_gex_settled_usd=5e7,
                          contracts_with_flow=50, total_abs_delta_contracts=1000, call_wall=230.0, put_wall=230.0,
                          magnet=230.0, atm_iv=0.2, pin_score=10, strike_step_usd=1.0)
    h = headline(base)
    assert h["trade_angle"] == "range_trade"
    assert "230-230" not in h["narrative"] and "coincide" in h["narrative"]
    h2 = headline(dataclasses.replace(base, put_wall=225.0))
    assert h2["trade_angle"] == "range_trade" and "range 225-230" in h2["narrative"]


def test_time_left_rounds_down_like_the_header_countdown():
    """At 10:30:06 the close is 329.9 min away: the header shows ``5h29m``, so the narrative says 5h 29m."""
    from zdte_tui.engine.decision import _time_left

    assert _time_left(329.9) == "5h 29m"
    assert _time_left(30.0) == "30 min"
    assert _time_left(59.99) == "59 min"
    assert _time_left(-3.0) == "0 min"
