"""GEX profile pane: net dealer GEX re-priced over a spot grid (the snapshot's ``gex_profile``),
the curve whose zero is the gamma flip, with spot, the flip and the call/put walls marked.

Drawn with plotext through textual-plotext's ``PlotextPlot``; :func:`profile_view` turns the
snapshot into plain numbers (unit-tested without an App) and the pane only hands them to plotext.
The marks use the price chart's level colours (:mod:`zdte_tui.ui.level_colors`); the subtitle is
their legend, with the values when the pane is wide enough (the levels bar always has them), and
the y axis is labelled in dollars at its top, zero and bottom.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.content import Content
from textual.events import Resize
from textual_plotext import PlotextPlot

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.level_colors import level_rgb, level_style
from zdte_tui.ui.widgets.base import Pane
from zdte_tui.ui.widgets.chart_plot import ChartPlot

MARKERS = (("spot", "gamma_flip", "call_wall", "put_wall"))
MARKER_NAMES = {"spot": "spot", "gamma_flip": "flip", "call_wall": "CW", "put_wall": "PW"}


@dataclass(frozen=True)
class ProfileView:
    """What the chart shows: spots, net GEX in $ millions per 1 % move, marked levels, a title."""

    spots: tuple[float, ...]
    net_gex_musd: tuple[float, ...]
    markers: tuple[tuple[str, float], ...]  # (level key, x) inside the grid
    title: str  # the marked levels with their values, e.g. ``spot 763.79 · flip 765.08 · CW 766 · PW 760``

    def legend(self, width: int, *, dark: bool = True) -> Content:
        """The subtitle: each marked level's name in its line's colour, with its value when the
        whole legend fits in ``width`` cells, else the names alone (never cut mid-value)."""
        for with_values in (True, False):
            pieces: list[str | tuple[str, str]] = []
            for i, (key, x) in enumerate(self.markers):
                pieces += [" · "] if i else []
                pieces.append((MARKER_NAMES[key], level_style(MARKER_NAMES[key], dark=dark)))
                if with_values:
                    pieces.append(f" {fmt.price(x) if key in ('spot', 'gamma_flip') else fmt.strike(x)}")
            legend = Content.assemble(*pieces)
            if not with_values or legend.cell_length <= width:
                return legend
        raise AssertionError("unreachable")


def y_ticks(values: tuple[float, ...]) -> tuple[list[float], list[str]]:
    """Ticks at the top, zero (when inside) and bottom of the curve, labelled in dollars
    (``+$4.41B``, ``0``, ``-$3.26B``); ``values`` are in $ millions."""
    lo, hi = min(values), max(values)
    ticks = sorted({lo, hi} | ({0.0} if lo < 0.0 < hi else set()))
    return ticks, ["0" if t == 0.0 else fmt.money_short(t * 1e6, signed=True) for t in ticks]


def profile_view(snapshot: Mapping[str, Any] | None) -> ProfileView | None:
    """The chart's numbers from a snapshot, or None when it has no profile (pure)."""
    prof = (snapshot or {}).get("gex_profile") or {}
    spots = [float(x) for x in prof.get("spots") or []]
    net = [float(y) / 1e6 for y in prof.get("net_gex") or []]
    if len(spots) < 2 or len(spots) != len(net):
        return None
    lo, hi = spots[0], spots[-1]
    markers = tuple((k, float(prof[k])) for k in MARKERS
                    if isinstance(prof.get(k), (int, float)) and lo <= prof[k] <= hi)
    parts = [f"{MARKER_NAMES[k]} {fmt.price(x)}" for k, x in markers]
    return ProfileView(tuple(spots), tuple(net), markers, " · ".join(parts))


class GexProfilePane(Pane):
    """Net GEX ($M per 1 % move) as a function of spot for the focused symbol."""

    PANE_TITLE = "Net GEX vs spot ($/1%)"

    def compose(self) -> ComposeResult:
        yield ChartPlot()

    def on_mount(self) -> None:
        self.data_changed()

    def data_changed(self) -> None:
        if not self.is_mounted:
            return
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        view = profile_view(self.data.snapshot if self.data else None)
        if view is None:
            self.border_subtitle = "no profile yet" if self.data else "loading…"
            plot.refresh()
            return
        dark = self.app.current_theme.dark
        plt.plot(list(view.spots), list(view.net_gex_musd), color="cyan", marker="braille")
        plt.hline(0.0, "gray")
        for key, x in view.markers:
            plt.vline(x, level_rgb(MARKER_NAMES[key], dark=dark))
        self.border_subtitle = view.legend(max(0, self.size.width - 6), dark=dark)
        plt.xfrequency(3)
        plt.yticks(*y_ticks(view.net_gex_musd))
        plot.refresh()

    def on_resize(self, _event: Resize) -> None:
        self.data_changed()  # the legend's form depends on the width
