"""The plotext widget every chart pane uses: textual-plotext's :class:`PlotextPlot` drawing a
:class:`StablePlot`, which renders the same data to the same characters in every process.

Why: plotext stores tick positions and labels through ``_utility.brush``, which removes duplicates
with a ``set`` of ``(tick, label)`` tuples, so the ticks come back in string-hash order, which
changes with every process (``PYTHONHASHSEED``). The x labels are then placed left to right *in
that order*, each only if its cells are still free, so which time labels survive on a narrow axis
differed from one run to the next (the 200x60 snapshots flipped between ``09:30 10:30 12:00`` and
``10:00 11:00 12:30``). :class:`StablePlot` sorts every axis's ticks by position just before each
build: the leftmost (lowest) label wins a collision, always.

Each widget owns its own figure (``PlotextPlot`` creates one per instance and every pane redraws
with ``clear_figure`` first), so no figure or setting is shared between panes, apps or tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from zdte_tui.ui import formatting as fmt


def half_hour_ticks(bars: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[str]]:
    """(bar indices, ET labels) of the bars on a :00 or :30 ET boundary: the session axis."""
    ticks: list[float] = []
    labels: list[str] = []
    for i, bar in enumerate(bars):
        label = fmt.et_clock(bar.get("t"))
        if label.endswith((":00", ":30")):
            ticks.append(float(i))
            labels.append(label)
    return ticks, labels


def session_axis(plt: Plot, series: Mapping[str, Any] | None) -> None:
    """The x axis of a chart over the session's bars: one unit per bar, labelled at :00 and :30 ET."""
    bars = list((series or {}).get("bars") or [])
    plt.xlim(0, max(1, len(bars) - 1))
    ticks, labels = half_hour_ticks(bars)
    if ticks:
        plt.xticks(ticks, labels)


def mounted_plot(pane: Any) -> PlotextPlot | None:
    """The pane's plot widget, or None before it is mounted (data can arrive first on a new screen)."""
    return next(iter(pane.query(PlotextPlot)), None)


def sort_ticks(monitor: Any) -> None:
    """Order each axis's ``(tick, label)`` pairs by tick, in place, on a plotext monitor."""
    for ticks_attr, labels_attr in (("xticks", "xlabels"), ("yticks", "ylabels")):
        ticks, labels = getattr(monitor, ticks_attr), getattr(monitor, labels_attr)
        for side in range(len(ticks)):
            if ticks[side] is None or labels[side] is None or len(ticks[side]) != len(labels[side]):
                continue
            pairs = sorted(zip(ticks[side], labels[side], strict=True), key=lambda pair: (pair[0], str(pair[1])))
            ticks[side] = [tick for tick, _label in pairs]
            labels[side] = [label for _tick, label in pairs]


class StablePlot(Plot):
    """A plotext figure whose output does not depend on the process's string-hash seed."""

    monitor: Any  # plotext's per-figure plot state (set by plotext's ``__init__``; not in its stubs)

    def build(self) -> str:
        sort_ticks(self.monitor)
        return super().build()


class ChartPlot(PlotextPlot):
    """``PlotextPlot`` over a :class:`StablePlot` (``plt`` is that figure)."""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._plot = StablePlot()
