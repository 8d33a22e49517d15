"""GEX profile pane: net dealer GEX re-priced over a spot grid (the snapshot's ``gex_profile``),
the curve whose zero is the gamma flip, with spot, the flip and the call/put walls marked.

Drawn with plotext through textual-plotext's ``PlotextPlot``; :func:`profile_view` turns the
snapshot into plain numbers (unit-tested without an App) and the pane only hands them to plotext.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual_plotext import PlotextPlot

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.widgets.base import Pane
from zdte_tui.ui.widgets.chart_plot import ChartPlot

MARKERS = (("spot", "gamma_flip", "call_wall", "put_wall"))
MARKER_COLORS = {"spot": "white", "gamma_flip": "yellow", "call_wall": "green", "put_wall": "red"}
MARKER_NAMES = {"spot": "spot", "gamma_flip": "flip", "call_wall": "CW", "put_wall": "PW"}


@dataclass(frozen=True)
class ProfileView:
    """What the chart shows: spots, net GEX in $ millions per 1 % move, marked levels, a title."""

    spots: tuple[float, ...]
    net_gex_musd: tuple[float, ...]
    markers: tuple[tuple[str, float], ...]  # (level key, x) inside the grid
    title: str  # the marked levels, shown as the pane's subtitle (white spot, yellow flip, green CW, red PW)


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

    PANE_TITLE = "GEX profile ($M / 1% vs spot)"

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
        plt.plot(list(view.spots), list(view.net_gex_musd), color="cyan", marker="braille")
        plt.hline(0.0, "gray")
        for key, x in view.markers:
            plt.vline(x, MARKER_COLORS[key])
        self.border_subtitle = view.title
        plt.xfrequency(3)
        plt.yfrequency(3)
        plot.refresh()
