"""A capped headline pane keeps the setup's legs and the odds (try-out of issue 13).

At 80x24 the headline pane is capped at 10 rows (8 inside the border, 44 cells wide) and the real
morning narrative wraps to four lines, so the pane showed ``legs: put debit spread: buy 764P / sell``
with the short leg cut off and no pin / 1σ / 2σ odds at all."""

from __future__ import annotations

from copy import deepcopy

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from zdte_tui.ui.widgets.headline import HeadlinePane, _first_lines, fit_headline, headline_text

from .fake_service import FakeFlowService
from .helpers import settle

NARRATIVE = ("Spot 763.79 crossed below gamma flip 765.08: negative gamma (amplifying) takes over, "
             "hedge flow -$1.1B recent, 5h 29m left")
SNAPSHOT = {
    "headline": {"severity": "alert", "trade_angle": "breakout_risk", "narrative": NARRATIVE},
    "setup": {"primary": {"display_name": "Gamma-flip cross momentum", "confidence": 1.0,
                          "strikes_hint": {"structure": "put_debit_spread",
                                           "legs": [{"action": "buy", "right": "P", "strike": 764.0},
                                                    {"action": "sell", "right": "P", "strike": 758.0}]}},
              "anti_setups": [{"display_name": "Pin iron fly",
                               "reason": "negative gamma regime: short premium fights dealer hedging"}]},
    "probabilities": {"pin": {"value": 0.07, "band": [768.24, 769.76]},
                      "range_1sigma": {"value": 0.68, "band": [757.39, 770.19]},
                      "range_2sigma": {"value": 0.95, "band": [750.99, 776.59]}},
}


def rows(text, width: int) -> list[str]:
    return [line.plain.rstrip() for line in text.wrap(Console(width=width), width)]


def test_a_tall_enough_pane_gets_everything():
    assert fit_headline(SNAPSHOT, 70, 16).plain == headline_text(SNAPSHOT).plain


def test_eight_rows_of_44_keep_both_legs_and_the_odds():
    shown = rows(fit_headline(SNAPSHOT, 44, 8), 44)
    assert len(shown) <= 8
    assert shown[0].strip() == "ALERT  breakout risk"
    joined = "\n".join(shown)
    assert "buy 764P / sell" in joined and "758P" in joined  # the whole spread
    assert "Pin 768.24–769.76 7%" in joined and "1σ 757.39–770.19 68%" in joined and "95%" in joined
    assert "Avoid" not in joined  # the anti-setup went first
    assert shown[2].endswith("…")  # the narrative kept two lines, marked as cut
    assert shown[1].startswith("Spot 763.79 crossed below gamma flip")


async def test_the_80x24_headline_shows_the_legs_and_the_odds(make_app):
    service = FakeFlowService()
    real = service.snapshot

    def snapshot(symbol, *args, **kwargs):
        snap = deepcopy(real(symbol, *args, **kwargs))
        snap.update(deepcopy({key: SNAPSHOT[key] for key in ("headline", "setup", "probabilities")}))
        return snap

    service.snapshot = snapshot  # type: ignore[method-assign]
    async with make_app(service=service).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = pilot.app.screen.query_one(HeadlinePane)
        lines = [pane.render_line(y).text.strip() for y in range(pane.size.height)]  # inside the border
        assert len(lines) == 8 and lines[0] == "ALERT  breakout risk"
        shown = "\n".join(lines)
        assert "758P" in shown and "Pin 768.24–769.76" in shown and "2σ 750.99–776.59 95%" in shown, shown


@settings(max_examples=200, deadline=None, derandomize=True)
@given(words=st.lists(st.text(alphabet="abcdefghij+-$.:,", min_size=1, max_size=12), min_size=1, max_size=30),
       width=st.integers(min_value=8, max_value=60), lines=st.integers(min_value=1, max_value=5))
def test_a_cut_narrative_keeps_its_first_rows_within_the_width(words, width, lines):
    """_first_lines keeps at most ``lines`` wrapped rows, none wider than the pane, ending in an ellipsis, and
    its text is the narrative's beginning. (Was: a row without trailing blank was emptied by rich's
    ``right_crop(0)``, and the ellipsis could overflow the last row.)"""
    narrative = Text(" ".join(words), style="italic")
    console = Console(width=width, color_system=None, legacy_windows=False)
    cut = _first_lines(narrative, lines, width)
    if len(narrative.wrap(console, width)) <= lines:
        assert cut is narrative
        return
    rows = cut.plain.split("\n")
    assert len(rows) <= lines and cut.plain.endswith("…")
    assert all(cell_len(row) <= width for row in rows)
    kept = "".join(rows)[:-1].replace(" ", "")
    assert kept and narrative.plain.replace(" ", "").startswith(kept)
