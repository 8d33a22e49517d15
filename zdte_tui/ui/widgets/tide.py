"""Net-premium tide pane: the session's net call premium and net put premium (premium bought at
the ask minus premium sold at the bid, since the open) as two lines over the session, like Unusual
Whales' market tide. Calls rising and puts falling lean bullish; the reverse leans bearish.

The numbers are the series bars' ``net_call_premium_cumulative`` / ``net_put_premium_cumulative``
(the service computes them from every classified print, see docs/tui.md). Drawn with plotext
through :class:`~zdte_tui.ui.widgets.chart_plot.ChartPlot`; :func:`tide_lines` is pure and
:func:`draw_tide` is tested on a bare figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import ComposeResult
from textual_plotext.plot import Plot

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.widgets.base import Pane
from zdte_tui.ui.widgets.chart_plot import ChartPlot, mounted_plot, session_axis

TIDE_KEYS = (("calls", "net_call_premium_cumulative", "green"), ("puts", "net_put_premium_cumulative", "red"))


def tide_lines(series: Mapping[str, Any] | None) -> dict[str, tuple[list[int], list[float]]]:
    """``calls``/``puts`` -> (bar indices, net premium in USD) of the bars that carry it (pure)."""
    bars = list((series or {}).get("bars") or [])
    lines: dict[str, tuple[list[int], list[float]]] = {}
    for label, key, _color in TIDE_KEYS:
        xs = [i for i, bar in enumerate(bars) if isinstance(bar.get(key), (int, float))]
        if xs:
            lines[label] = (xs, [float(bars[i][key]) for i in xs])
    return lines


def tide_legend(series: Mapping[str, Any] | None) -> str:
    """``calls +$12.3M · puts -$4.50M · C−P +$16.8M`` at the last bar ('' without tide data)."""
    lines = tide_lines(series)
    if set(lines) != {"calls", "puts"}:
        return ""
    calls, puts = lines["calls"][1][-1], lines["puts"][1][-1]
    return (f"calls {fmt.money_short(calls, signed=True)} · puts {fmt.money_short(puts, signed=True)} · "
            f"C−P {fmt.money_short(calls - puts, signed=True)}")


def draw_tide(plt: Plot, series: Mapping[str, Any] | None) -> bool:
    """Plot the tide into ``plt`` ($ millions); False when the series carries no tide."""
    plt.clear_data()
    plt.clear_figure()
    lines = tide_lines(series)
    if not lines:
        return False
    for label, _key, color in TIDE_KEYS:
        if label in lines:
            xs, ys = lines[label]
            plt.plot(xs, [y / 1e6 for y in ys], color=color, marker="braille")
    plt.hline(0.0, "gray")
    session_axis(plt, series)
    plt.yfrequency(3)
    return True


class TidePane(Pane):
    """Net call vs net put premium over the session (`t` swaps it with the hedge flow)."""

    PANE_TITLE = "Net premium tide $M · calls green · puts red"

    def compose(self) -> ComposeResult:
        yield ChartPlot(id="tide-plot")

    def on_mount(self) -> None:
        self.data_changed()

    def data_changed(self) -> None:
        plot = mounted_plot(self)
        if plot is None:
            return  # data came before the plot was mounted (a new screen): drawn on mount
        note = fmt.no_intraday_flow_note(self.data.snapshot) if self.data else None
        series = None if note else (self.data.series if self.data else None)
        drawn = draw_tide(plot.plt, series)
        if note:
            self.border_subtitle = note
        elif not self.data:
            self.border_subtitle = "loading…"
        else:
            self.border_subtitle = tide_legend(series) if drawn else "no net-premium data in this series"
        plot.refresh()
