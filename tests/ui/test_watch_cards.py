"""Watch cards (try-out of issue 13 at 160x48): the mini heatmaps had no level tags even on 78-column
cards, kept the dark truecolour palette on a light theme, and a card still waiting for its symbol
(SPX warming up) showed a row of placeholders, `pin -- --  flow --`."""

from __future__ import annotations

from rich.console import Console

from zdte_tui.ui.renderables.palette import get_palette
from zdte_tui.ui.widgets.card import SymbolCard, card_text

from .fake_service import FakeFlowService
from .helpers import settle


def card_lines(card: SymbolCard) -> list[str]:
    console = Console(width=card.content_size.width, color_system=None)
    return ["".join(seg.text for seg in row).rstrip() for row in console.render_lines(card.render(), pad=False)]


async def test_wide_cards_tag_the_levels_and_follow_the_theme(make_app):
    app = make_app(symbols=("SPY", "QQQ", "IWM", "SPX"), mode="watch", service=FakeFlowService())
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        card = next(c for c in pilot.app.screen.query(SymbolCard) if c.symbol == "SPY")
        assert card.content_size.width >= 60
        axis = [line[:12].strip() for line in card_lines(card)]
        assert "595 CW" in axis and "590 MAG" in axis and "589 MP" in axis, axis  # the fake's levels
        pilot.app.theme = "textual-light"
        await settle(pilot)
        assert pilot.app.palette == get_palette(truecolor=True, dark=False)
        heatmap = card.render().renderables[-1]
        assert heatmap.palette is pilot.app.palette


def test_a_card_without_a_snapshot_says_it_waits_without_placeholders():
    text = card_text("SPX", None).plain
    assert "waiting for data…" in text and "pin" not in text and "flow" not in text
