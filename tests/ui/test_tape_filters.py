"""Signals-tape filters (issue 13): kind, side, score, contract and premium."""

from __future__ import annotations

from zdte_tui.ui.state import ViewSettings
from zdte_tui.ui.widgets.signals import SignalsTape, filter_label, visible_signals

from .fake_service import FakeFlowService
from .helpers import settle

PAYLOAD = {
    "signals": [
        {
            "ts": "2026-06-05T18:40:00Z",
            "strike": 590.0,
            "right": "C",
            "structure": "sweep",
            "premium": 60_000,
            "score": 72,
        },
        {
            "ts": "2026-06-05T18:41:00Z",
            "strike": 590.0,
            "right": "P",
            "structure": "block",
            "premium": 300_000,
            "score": 55,
        },
        {
            "ts": "2026-06-05T18:42:00Z",
            "strike": 595.0,
            "right": "C",
            "structure": "block",
            "premium": 1_500_000,
            "score": 90,
        },
        {
            "ts": "2026-06-05T18:43:00Z",
            "strike": 585.0,
            "right": "P",
            "structure": "sweep",
            "premium": 20_000,
            "score": 40,
        },
    ]
}


def strikes(rows):
    return [f"{r['strike']:g}{r['right']}" for r in rows]


def test_each_filter_by_hand():
    assert strikes(visible_signals(PAYLOAD, 0)) == ["585P", "595C", "590P", "590C"]  # newest first
    assert strikes(visible_signals(PAYLOAD, 0, kind="sweep")) == ["585P", "590C"]
    assert strikes(visible_signals(PAYLOAD, 0, side="P")) == ["585P", "590P"]
    assert strikes(visible_signals(PAYLOAD, 0, min_premium=250_000)) == ["595C", "590P"]
    assert strikes(visible_signals(PAYLOAD, 0, contract="590c")) == ["590P", "590C"][1:]  # only 590C
    assert strikes(visible_signals(PAYLOAD, 70, kind="block", side="C", min_premium=1_000_000)) == ["595C"]


def test_filter_label_names_every_active_filter():
    settings = ViewSettings(
        min_score=70, tape_kind="sweep", tape_side="P", tape_min_premium=250_000, tape_contract="590P"
    )
    assert filter_label(settings) == " · score ≥ 70 · sweep · puts · ≥ $250K · 590P"
    assert filter_label(ViewSettings()) == ""


async def test_k_v_dollar_keys_filter_the_tape(make_app):
    async with make_app(service=FakeFlowService()).run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        tape = pilot.app.screen.query_one(SignalsTape)
        everything = len(tape.rows)
        await pilot.press("k", "v", "dollar_sign")
        await pilot.pause()
        assert all(r["structure"] == "sweep" and r["right"] == "C" and r["premium"] >= 50_000 for r in tape.rows)
        assert 0 < len(tape.rows) < everything
        assert "sweep · calls · ≥ $50.0K" in tape.border_title


def test_neutral_rows_and_mid_scores_use_the_theme_foreground():
    """Try-out on the light theme: neutral rows (grey70) and scores 50-69 (white) were light text on a
    light background. They carry no colour of their own now; the pane's theme foreground shows."""
    from zdte_tui.ui.widgets.signals import signal_row

    row = signal_row({"ts": "2026-06-05T18:45:13Z", "strike": 596.0, "right": "C", "structure": "sweep",
                      "aggressor": "mid", "premium": 171_000.0, "score": 60, "intent": "neutral"}, 60)
    styled = {segment.text.strip(): segment.style for segment in row}
    assert styled["596C"].color is None and styled["neutral"].color is None
    assert styled["60"].color is None
