"""Hedge-flow pane: cumulative dealer hedge flow (calls, puts, all) as a braille chart with
spot underneath, from the series endpoint (cumulative legs) and hedge-flow (last bar)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.text import Text
from textual.renderables.sparkline import Sparkline

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.renderables.chart import ChartSeries, LineChart
from zdte_tui.ui.widgets.base import Pane

# "all" has no color of its own: it uses the theme's foreground, so it stays visible on light themes
LEG_STYLES = {"calls": Style(color="green"), "puts": Style(color="red"), "all": Style(bold=True)}
SPOT_LOW = Color.parse("grey50")
SPOT_HIGH = Color.parse("bright_yellow")
SERIES_KEYS = {"calls": "hedge_flow_call_cumulative", "puts": "hedge_flow_put_cumulative",
               "all": "hedge_flow_cumulative_all"}


def hedge_series(series: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    """Cumulative calls/puts/all and spot arrays from a series response (NaN for nulls)."""
    bars = (series or {}).get("bars") or []
    out = {}
    for leg, key in {**SERIES_KEYS, "spot": "spot"}.items():
        out[leg] = np.array([np.nan if b.get(key) is None else b[key] for b in bars], dtype=np.float64)
    return out


def _legs_legend(values: Mapping[str, str], *, compact: bool) -> Text:
    legend = Text(no_wrap=True, overflow="ellipsis")
    for i, leg in enumerate(("calls", "puts", "all")):
        name = {"calls": "C", "puts": "P", "all": "all"}[leg] if compact else leg
        legend.append((" " if compact else "  ") if i else "")
        legend.append(f"■{name} " if compact else f"■ {name} ", style=LEG_STYLES[leg])
        legend.append(values[leg])
    return legend


def hedge_legend(arrays: Mapping[str, np.ndarray], last_bar: float | None, spot: float | None, width: int) -> Text:
    """``■ calls +$468M  ■ puts +$21.2M  ■ all +$489M  last bar -$21.7M  spot 763.79`` in at most
    ``width`` cells, never cut inside a number: the three legs always (``■C`` ``■P`` ``■all`` when
    narrow), then ``last bar`` and ``spot`` only if they fit whole (the header has the spot)."""
    values = {}
    for leg in ("calls", "puts", "all"):
        last = arrays[leg][np.isfinite(arrays[leg])]
        values[leg] = fmt.money_short(float(last[-1]) if last.size else None, signed=True)
    legend = _legs_legend(values, compact=False)
    if legend.cell_len > width:
        legend = _legs_legend(values, compact=True)
    extras: list[Text] = []
    if last_bar is not None:
        extras.append(Text.assemble(("last bar ", "grey50"),
                                    (fmt.money_short(last_bar, signed=True), "green" if last_bar >= 0 else "red")))
    if spot is not None:
        extras.append(Text.assemble(("spot ", "grey50"), (fmt.price(spot), "bold")))
    for extra in extras:
        if legend.cell_len + 2 + extra.cell_len <= width:
            legend.append("  ")
            legend.append_text(extra)
    legend.truncate(width, overflow="ellipsis")
    return legend


def hedge_flow_renderable(series: Mapping[str, Any] | None, hedge: Mapping[str, Any] | None,
                          width: int, height: int, *, spot: float | None = None) -> Group | Text:
    """Legend line, braille chart and a spot sparkline sized to ``width x height`` (pure).

    ``spot`` is the snapshot's live spot, the one the header shows; the legend prints it rather
    than the last bar's spot so the two never disagree (the last bar's spot is its close)."""
    arrays = hedge_series(series)
    if arrays["all"].size == 0:
        return Text("no hedge-flow bars yet", style="grey50")
    spots = arrays["spot"][np.isfinite(arrays["spot"])]
    spot_rows = 1 if height >= 5 and spots.size > 1 else 0
    shown_spot = spot if isinstance(spot, (int, float)) else (float(spots[-1]) if spots.size else None)
    last_bar = ((hedge or {}).get("bars") or [{}])[-1].get("bar")
    legend = hedge_legend(arrays, last_bar if isinstance(last_bar, (int, float)) else None, shown_spot, width)
    chart_rows = max(1, height - 1 - spot_rows)
    chart = LineChart([ChartSeries(leg, arrays[leg], LEG_STYLES[leg]) for leg in ("calls", "puts", "all")],
                      width, chart_rows, y_format=fmt.money_short)
    parts: list[Any] = [legend, chart]
    if spot_rows:
        parts.append(Sparkline(list(spots), width=width, height=spot_rows, min_color=SPOT_LOW, max_color=SPOT_HIGH))
    return Group(*parts)


class HedgeFlowPane(Pane):
    """Cumulative dealer hedge flow of the focused symbol."""

    PANE_TITLE = "Dealer hedge flow (cumulative)"

    def render(self) -> Group | Text:
        width, height = self.content_size
        if not self.data:
            return Text("loading…", style="grey50")
        note = fmt.no_intraday_flow_note(self.data.snapshot)
        if note:
            return Text(note, style="grey50")
        return hedge_flow_renderable(self.data.series, self.data.hedge_flow, max(10, width), max(3, height),
                                     spot=fmt.dig(self.data.snapshot, "underlying_price"))
