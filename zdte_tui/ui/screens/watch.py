"""Watch mode: a grid of per-symbol cards. Arrows/Tab move between cards, Enter opens the
symbol's full screen (Escape comes back)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen

from zdte_tui.ui.state import SymbolData
from zdte_tui.ui.widgets.card import SymbolCard
from zdte_tui.ui.widgets.footer import Footer
from zdte_tui.ui.widgets.header import StatusHeader


class WatchScreen(Screen):
    """Cards for every watched symbol."""

    BINDINGS = [
        Binding("enter", "open", "Open"),
        Binding("right,down", "app.focus_next", "Next", show=False),
        Binding("left,up", "app.focus_previous", "Previous", show=False),
    ]

    def __init__(self, symbols: Sequence[str]) -> None:
        super().__init__()
        self.symbols = list(symbols)

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with Grid(id="cards", classes=f"-n{min(len(self.symbols), 6)}"):
            for symbol in self.symbols:
                yield SymbolCard(symbol, id=f"card-{symbol}")
        yield Footer()

    def on_mount(self) -> None:
        cards = list(self.query(SymbolCard))
        if cards:
            cards[0].focus()

    def action_open(self) -> None:
        focused = self.focused
        if isinstance(focused, SymbolCard):
            self.post_message(SymbolCard.Opened(focused.symbol))

    def show(self, cards: Mapping[str, SymbolData], *, status: Mapping[str, Any] | None,
             errors: Sequence[str], mode: str) -> None:
        """Push each symbol's card data (called by the app)."""
        label = "WATCH " + " ".join(self.symbols)
        self.query_one(StatusHeader).show(status, None, label, errors, mode)
        for card in self.query(SymbolCard):
            data = cards.get(card.symbol)
            if data is not None:
                card.show(data, card.settings)
