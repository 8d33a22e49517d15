"""Per-strike profile pane: call GEX (right, green) and put GEX (left, red) as horizontal bars per
strike around spot, the settled book (from the open interest at the open) and the live book side by
side on one shared scale, so what the day's flow changed is visible. Drawn with plotext through two
textual-plotext :class:`PlotextPlot` widgets; :func:`profile_rows` and :func:`draw_profile` are pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.widgets.base import Pane
from zdte_tui.ui.widgets.chart_plot import ChartPlot

BOOKS = {"settled": ("call_gex_settled", "put_gex_settled"), "live": ("call_gex", "put_gex")}


def profile_rows(snapshot: Mapping[str, Any] | None, count: int) -> list[Mapping[str, Any]]:
    """The ``count`` strike rows nearest to spot, ascending (rows without GEX are skipped)."""
    snapshot = snapshot or {}
    rows = [r for r in snapshot.get("strikes") or [] if isinstance(r, Mapping)
            and isinstance(r.get("strike"), (int, float)) and isinstance(r.get("call_gex"), (int, float))]
    spot = snapshot.get("underlying_price")
    if isinstance(spot, (int, float)):
        rows = sorted(rows, key=lambda r: abs(r["strike"] - spot))[:max(1, count)]
    else:
        rows = rows[:max(1, count)]
    return sorted(rows, key=lambda r: r["strike"])


def profile_limit(rows: list[Mapping[str, Any]]) -> float:
    """One |GEX| bound for both books so their bars compare directly."""
    values = [abs(float(r.get(k) or 0.0)) for r in rows for pair in BOOKS.values() for k in pair]
    return max(values, default=0.0) or 1.0


def draw_profile(plt: Plot, rows: list[Mapping[str, Any]], book: str, limit: float) -> bool:
    """Horizontal bars of one book (``settled`` or ``live``) into ``plt``; False without rows."""
    plt.clear_data()
    plt.clear_figure()
    if not rows:
        return False
    call_key, put_key = BOOKS[book]
    labels = [fmt.strike(r["strike"]) for r in rows]
    calls = [float(r.get(call_key) or 0.0) for r in rows]
    puts = [float(r.get(put_key) or 0.0) for r in rows]
    plt.bar(labels, calls, orientation="horizontal", color="green", width=0.6)
    plt.bar(labels, puts, orientation="horizontal", color="red", width=0.6)
    plt.xlim(-limit * 1.05, limit * 1.05)
    plt.xticks([-limit, 0, limit], [fmt.money_short(-limit), "0", fmt.money_short(limit)])
    plt.title(book)
    return True


class ProfilePane(Pane):
    """Settled vs live per-strike GEX around spot (`p` shows or hides it)."""

    PANE_TITLE = "GEX by strike · put ◀ ▶ call"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ChartPlot(id="profile-settled")
            yield ChartPlot(id="profile-live")

    def on_resize(self) -> None:
        if self.data is not None:
            self.data_changed()

    def on_mount(self) -> None:
        self.data_changed()

    def data_changed(self) -> None:
        if len(self.query(PlotextPlot)) < len(BOOKS):
            return  # data came before the plots were mounted (a new screen): drawn on mount
        snapshot = self.data.snapshot if self.data else None
        height = max(4, self.size.height - 4)  # frame and axis rows of each plot
        rows = profile_rows(snapshot, height)
        limit = profile_limit(rows)
        drawn = False
        for book in BOOKS:
            plot = self.query_one(f"#profile-{book}", PlotextPlot)
            drawn = draw_profile(plot.plt, rows, book, limit) or drawn
            plot.refresh()
        self.border_subtitle = "" if drawn else "no per-strike GEX in this snapshot"
