"""The headline pane reads the real FlowService shapes (strikes_hint legs, probability bands)."""

from zdte_tui.ui.widgets.headline import _legs_text, _probability, headline_text
from zdte_tui.ui.widgets.levels import levels_line


def test_strikes_hint_legs_render_as_actions_and_strikes():
    hint = {"structure": "bear_call_spread", "legs": [{"action": "sell", "right": "C", "strike": 590.0},
                                                      {"action": "buy", "right": "C", "strike": 593.0}]}
    assert _legs_text(hint) == "bear call spread: sell 590C / buy 593C"


def test_probability_band_is_shown_as_a_range():
    value, where = _probability({"value": 0.42, "band": [589.41, 590.59], "calibration_method": "x"})
    assert value.startswith("42") and "589.41" in where and "590.59" in where


def test_headline_text_shows_narrative_and_setup_and_the_levels_bar_the_levels():
    snap = {"headline": {"narrative": "Positive gamma, pin at 590", "trade_angle": "pin_trade", "severity": "alert"},
            "setup": {"primary": {"display_name": "Pin iron fly", "confidence": 0.8,
                                  "strikes_hint": {"legs": [{"action": "sell", "right": "C", "strike": 590}]}},
                      "alternatives": [], "anti_setups": [{"display_name": "Breakout", "reason": "pin locking"}]},
            "probabilities": {"pin": {"value": 0.6, "band": [589.5, 590.5]}},
            "regime": {"gamma_flip": 585.2}, "levels": {"call_wall": 595, "put_wall": 580},
            "pin_risk": {"magnet_strike": 590, "max_pain": 590}}
    text = headline_text(snap).plain
    for part in ("ALERT", "pin trade", "Positive gamma, pin at 590", "Pin iron fly", "sell 590C", "Avoid Breakout",
                 "pin locking"):
        assert part in text, part
    levels = levels_line(snap, 80).plain  # the key levels moved to their own always-visible bar
    assert "flip 585.2" in levels and "CW 595" in levels and "PW 580" in levels
