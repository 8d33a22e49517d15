"""Key-levels bar: one line under the header with spot, gamma flip, call/put walls, magnet,
max pain and the expected-move band, always visible whatever the terminal size (the parts
that do not fit are dropped from the right, the levels themselves last)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widget import Widget

from zdte_tui.ui import formatting as fmt

LEVEL_STYLE = "bold bright_cyan"


def key_levels(snapshot: Mapping[str, Any] | None) -> list[tuple[str, float | None]]:
    """(tag, strike) of flip, call wall, put wall, magnet and max pain, in that order."""
    snapshot = snapshot or {}
    return [("flip", fmt.dig(snapshot, "regime", "gamma_flip")), ("CW", fmt.dig(snapshot, "levels", "call_wall")),
            ("PW", fmt.dig(snapshot, "levels", "put_wall")), ("MAG", fmt.dig(snapshot, "pin_risk", "magnet_strike")),
            ("MP", fmt.dig(snapshot, "pin_risk", "max_pain"))]


def levels_line(snapshot: Mapping[str, Any] | None, width: int) -> Text:
    """The bar's text, at most ``width`` cells: full form, then without distances/EM, then tight."""
    if not snapshot:
        return Text(" levels: waiting for data…", style="grey50")
    spot = snapshot.get("underlying_price")
    low = fmt.dig(snapshot, "expected_move", "lower_bound")
    high = fmt.dig(snapshot, "expected_move", "upper_bound")
    for variant in ("full", "short", "tight"):
        text = Text(no_wrap=True)
        sep = "  " if variant == "tight" else "  │ "
        if variant != "tight":
            text.append(" spot ", style="grey50")
            text.append(fmt.price(spot), style="bold")
        for i, (tag, value) in enumerate(key_levels(snapshot)):
            if i or variant != "tight":
                text.append(sep, style="grey50")
            else:
                text.append(" ")
            text.append(f"{tag} ", style="bold")
            text.append(fmt.strike(value), style=LEVEL_STYLE)
            if variant == "full" and isinstance(value, (int, float)) and isinstance(spot, (int, float)):
                text.append(f" ({value - spot:+.2f})", style="grey50")
        if variant != "tight" and low is not None and high is not None:
            text.append(sep, style="grey50")
            text.append("EM ", style="bold")
            text.append(f"{fmt.price(low)}–{fmt.price(high)}", style="magenta")
        if text.cell_len <= width:
            return text
    text.truncate(width, overflow="ellipsis")
    return text


class LevelsBar(Widget):
    """One line of key levels; :meth:`show` with the focused symbol's snapshot."""

    DEFAULT_CSS = """
    LevelsBar { height: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snapshot: Mapping[str, Any] | None = None

    def show(self, snapshot: Mapping[str, Any] | None) -> None:
        self.snapshot = snapshot
        self.refresh()

    def render(self) -> Text:
        return levels_line(self.snapshot, max(1, self.size.width))
