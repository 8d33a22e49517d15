"""Watch-mode card: one symbol's spot, regime, headline, pin probability and a mini heatmap.
Focusable; Enter opens the symbol's full screen (handled by the watch screen)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.message import Message

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.renderables.heatmap import HeatmapRenderable
from zdte_tui.ui.renderables.palette import get_palette
from zdte_tui.ui.state import degraded_message
from zdte_tui.ui.widgets.base import Pane
from zdte_tui.ui.widgets.header import REGIME_STYLES
from zdte_tui.ui.widgets.headline import SEVERITY_STYLES
from zdte_tui.ui.widgets.heatmap import heatmap_arrays, level_labels


def card_text(symbol: str, snapshot: Mapping[str, Any] | None) -> Text:
    """The card's text block (3 lines) (pure)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    snapshot = snapshot or {}
    text.append(f"{fmt.price(snapshot.get('underlying_price'))}", style="bold")
    prev = snapshot.get("prev_close")
    spot = snapshot.get("underlying_price")
    if isinstance(spot, (int, float)) and isinstance(prev, (int, float)) and prev:
        change = (spot - prev) / prev * 100
        text.append(f" {change:+.2f}%", style="green" if change >= 0 else "red")
    regime = fmt.dig(snapshot, "regime", "label")
    if regime:
        text.append("  ")
        text.append(fmt.regime_name(regime), style=REGIME_STYLES.get(regime, "bold"))
    severity = fmt.dig(snapshot, "headline", "severity")
    if severity:
        text.append("  ")
        text.append(f" {severity.upper()} ", style=SEVERITY_STYLES.get(severity, "bold"))
    text.append("\n")
    degraded = degraded_message(snapshot)
    if degraded:
        text.append(degraded, style="yellow")
        return text
    if not snapshot:  # no "pin -- --  flow --" row of placeholders before the first snapshot
        text.append("waiting for data…", style="italic grey50")
        return text
    text.append(fmt.dig(snapshot, "headline", "narrative", default="no headline"), style="italic")
    text.append("\npin ", style="grey50")
    text.append(f"{fmt.strike(fmt.dig(snapshot, 'pin_risk', 'magnet_strike'))} ", style="grey70")
    text.append(fmt.percent(fmt.dig(snapshot, "probabilities", "pin", "value")), style="bold magenta")
    phrase = fmt.dig(snapshot, "headline", "flow_phrase")
    text.append("  " if phrase else "  flow ", style="grey50")
    text.append(str(phrase) if phrase else fmt.flow_direction_name(fmt.dig(snapshot, "flow_direction", "label")))
    return text


class SymbolCard(Pane, can_focus=True):
    """A watch-grid card for one symbol."""

    class Opened(Message):
        """The user asked to open this card's symbol."""

        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(self, symbol: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.symbol = symbol
        self.border_title = symbol

    def render(self) -> Group | Text:
        snapshot = self.data.snapshot if self.data else None
        text = card_text(self.symbol, snapshot)
        width, height = self.content_size
        arrays = heatmap_arrays(self.data.heatmap if self.data else None)
        map_height = height - 4
        if map_height < 3 or not arrays[1]:
            return text
        strikes, times, values, spots = arrays
        # the app's palette follows the theme (light) and the colour mode; a wide card has room for
        # the level tags (CW, PW, MAG, FLP, MP) on its strike axis
        palette = getattr(self.app, "palette", None) or get_palette()
        heatmap = HeatmapRenderable(strikes, times, values, spots, level_labels(snapshot), width, map_height,
                                    palette, center=fmt.dig(snapshot, "underlying_price"),
                                    zoom_strikes=max(5, map_height - 1), axis_width=11 if width >= 60 else 7)
        return Group(text, Text(""), heatmap)

    def on_click(self) -> None:
        self.post_message(self.Opened(self.symbol))
