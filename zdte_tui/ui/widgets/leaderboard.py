"""Leaderboard pane: the service's tracked symbols ranked by heat / pin_risk / abs_flow /
charm_intensity (``l`` cycles the metric)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.widgets.base import Pane

VALUE_FORMATS = {
    "heat": lambda v: f"{v:+.3f}",
    "pin_risk": lambda v: f"{v:.0f}",
    "abs_flow": lambda v: fmt.money_short(v),
    "charm_intensity": lambda v: fmt.money_short(v) + "/h",
}


def leaderboard_table(board: Mapping[str, Any] | None, focus: str | None, metric: str) -> Table | Text:
    """Ranked rows with the focused symbol highlighted (pure: unit-testable)."""
    entries = (board or {}).get("entries") or []
    if not entries:
        return Text("no ranking yet", style="grey50")
    table = Table(box=None, expand=True, show_edge=False, pad_edge=False, header_style="bold grey70")
    table.add_column("#", justify="right", width=3)
    table.add_column("symbol", ratio=1)
    table.add_column(metric.replace("_", " "), justify="right", ratio=1)
    formatter = VALUE_FORMATS.get(metric, lambda v: f"{v:.3g}")
    for entry in entries:
        value = entry.get("value")
        shown = formatter(value) if isinstance(value, (int, float)) else "--"
        style = "bold reverse" if entry.get("symbol") == focus else ""
        table.add_row(str(entry.get("rank", "")), str(entry.get("symbol", "")), shown, style=style)
    return table


class LeaderboardPane(Pane):
    """Cross-symbol ranking; the board dict arrives through ``show(..., board=...)``."""

    PANE_TITLE = "Leaderboard"

    def data_changed(self) -> None:
        self.border_title = f"Leaderboard · {self.settings.leaderboard_metric.replace('_', ' ')}"

    def render(self) -> Table | Text:
        focus = self.data.symbol if self.data else None
        return leaderboard_table(self.extra.get("board"), focus, self.settings.leaderboard_metric)
