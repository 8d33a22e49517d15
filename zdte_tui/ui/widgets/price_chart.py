"""Price chart pane: spot over the session with the gamma flip, call wall, put wall and magnet as
lines that move when the levels move (each bar of the series carries that bar's levels), and the
expected-move band of the latest snapshot as two horizontal lines. Drawn with plotext through
textual-plotext's :class:`PlotextPlot`; :func:`draw_price_chart` issues the plotext calls and is
tested on a bare :class:`textual_plotext.plot.Plot`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import ComposeResult
from textual.content import Content
from textual_plotext.plot import Plot

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.level_colors import level_rgb, level_style
from zdte_tui.ui.widgets.base import Pane
from zdte_tui.ui.widgets.chart_plot import ChartPlot, mounted_plot, session_axis

# (series field, legend label); each line's colour is :func:`zdte_tui.ui.level_colors.level_rgb`
LEVEL_LINES = (("gamma_flip", "flip"), ("call_wall", "CW"), ("put_wall", "PW"), ("magnet", "MAG"))


def _points(bars: list[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for i, bar in enumerate(bars):
        value = bar.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            xs.append(i)
            ys.append(float(value))
    return xs, ys


def chart_lines(series: Mapping[str, Any] | None, snapshot: Mapping[str, Any] | None
                ) -> dict[str, tuple[list[int], list[float]]]:
    """``label -> (bar indices, values)`` of every line the chart draws (pure)."""
    bars = list((series or {}).get("bars") or [])
    lines: dict[str, tuple[list[int], list[float]]] = {}
    for key, label in LEVEL_LINES:
        xs, ys = _points(bars, key)
        if xs:
            lines[label] = (xs, ys)
    low = fmt.dig(snapshot or {}, "expected_move", "lower_bound")
    high = fmt.dig(snapshot or {}, "expected_move", "upper_bound")
    if bars and isinstance(low, (int, float)) and isinstance(high, (int, float)):
        start = max(0, len(bars) - 60)  # the band is the move expected from now: drawn over the last hour
        lines["EM"] = ([start, len(bars) - 1], [float(high), float(high)])
        lines["EM low"] = ([start, len(bars) - 1], [float(low), float(low)])
    xs, ys = _points(bars, "spot")
    if xs:
        lines["spot"] = (xs, ys)
    return lines


def line_colors(dark: bool = True) -> dict[str, tuple[int, int, int]]:
    """The RGB of each line (plotext takes RGB tuples; ANSI names would go through Textual's ANSI
    theme, which draws red and magenta alike), one per level, darker on a light theme."""
    return {label: level_rgb(label, dark=dark) for label in ("spot", "flip", "CW", "PW", "MAG", "EM", "EM low")}


def chart_legend(series: Mapping[str, Any] | None, snapshot: Mapping[str, Any] | None, *,
                 dark: bool = True) -> Content:
    """``spot · flip · CW · PW · MAG · EM`` in the lines' colours, for the lines drawn (pure). A legend
    inside the plot would hide the first minutes of the session, so it goes in the pane's subtitle."""
    lines = chart_lines(series, snapshot)
    order = ["spot", *(label for _key, label in LEVEL_LINES), "EM"]
    parts = [(label, level_style(label, dark=dark)) for label in order if label in lines]
    pieces: list[str | tuple[str, str]] = []
    for i, part in enumerate(parts):
        pieces += [" · "] if i else []
        pieces.append(part)
    return Content.assemble(*pieces)


def draw_price_chart(plt: Plot, series: Mapping[str, Any] | None, snapshot: Mapping[str, Any] | None,
                     *, dark: bool = True) -> bool:
    """Plot :func:`chart_lines` into ``plt``; False when there is no spot to draw."""
    plt.clear_data()
    plt.clear_figure()
    lines = chart_lines(series, snapshot)
    if "spot" not in lines:
        return False
    colors = line_colors(dark)
    for label, (xs, ys) in lines.items():  # spot last, on top; the legend is the pane's subtitle
        plt.plot(xs, ys, color=colors[label], marker="braille")
    values = [y for _xs, ys in lines.values() for y in ys]
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.05, 0.05)
    plt.ylim(lo - pad, hi + pad)
    session_axis(plt, series)
    return True


class PriceChartPane(Pane):
    """Spot with its levels over the session (`c` swaps it with the heatmap)."""

    PANE_TITLE = "Price · levels"

    def compose(self) -> ComposeResult:
        yield ChartPlot(id="price-plot")

    def on_mount(self) -> None:
        self.data_changed()

    def data_changed(self) -> None:
        plot = mounted_plot(self)
        if plot is None:
            return  # data came before the plot was mounted (a new screen): drawn on mount
        series, snapshot = (self.data.series, self.data.snapshot) if self.data else (None, None)
        dark = self.app.current_theme.dark
        has_data = draw_price_chart(plot.plt, series, snapshot, dark=dark)
        self.border_subtitle = chart_legend(series, snapshot, dark=dark) if has_data else "waiting for series bars…"
        plot.refresh()
