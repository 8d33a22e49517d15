"""Heatmap pane: strike x time grid of the chosen metric (Line API over a cached renderable).

Holds the latest heatmap payload; the drawing is done by the pure
:class:`~zdte_tui.ui.renderables.heatmap.HeatmapRenderable`, rebuilt only when the data, the
view settings or the size change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from rich.segment import Segment
from textual.strip import Strip

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.renderables.heatmap import HeatmapRenderable
from zdte_tui.ui.renderables.palette import DEFAULT_PALETTE, HeatmapPalette, get_palette
from zdte_tui.ui.widgets.base import Pane


def heatmap_arrays(payload: Mapping[str, Any] | None) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """(strikes, ET time labels, values[bar][strike], spot per bar) from a heatmap response."""
    if not payload:
        return np.empty(0), [], np.empty((0, 0)), np.empty(0)
    strikes = np.asarray(payload.get("strikes_grid") or [], dtype=np.float64)
    bars = payload.get("bars") or []
    times = [fmt.et_clock(b.get("t")) for b in bars]
    if strikes.size and bars:
        values = np.array([b.get("values") or [np.nan] * strikes.size for b in bars], dtype=np.float64)
    else:
        values = np.empty((len(bars), strikes.size))
    spots = np.array([np.nan if b.get("spot") is None else b["spot"] for b in bars], dtype=np.float64)
    return strikes, times, values, spots


# Units of each heatmap metric, as documented in docs/model.md (section 8, exposures; section 10, flow).
METRIC_UNITS = {
    "gex": "$/1% move",
    "dex": "$ delta",
    "vex": "$/vol pt",
    "chex": "$/hour",
    "oi": "contracts",
    "signed_flow": "$ delta traded",
}


def metric_unit(metric: str, mode: str) -> str:
    unit = METRIC_UNITS.get(metric, "")
    return f"Δ{unit}/min" if mode == "delta" and unit else unit


def level_labels(snapshot: Mapping[str, Any] | None) -> dict[str, float | None]:
    """Walls, magnet, flip and max pain from a snapshot, keyed by their axis tag."""
    snapshot = snapshot or {}
    return {
        "CW": fmt.dig(snapshot, "levels", "call_wall"),
        "PW": fmt.dig(snapshot, "levels", "put_wall"),
        "MAG": fmt.dig(snapshot, "pin_risk", "magnet_strike"),
        "FLP": fmt.dig(snapshot, "regime", "gamma_flip"),
        "MP": fmt.dig(snapshot, "pin_risk", "max_pain"),
    }


class HeatmapPane(Pane):
    """The strike x time heatmap of the focused symbol."""

    PANE_TITLE = "Heatmap"

    def __init__(
        self,
        *,
        id: str | None = None,
        classes: str | None = None,
        palette: HeatmapPalette | None = None,
        compact: bool = False,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.palette = palette or get_palette(DEFAULT_PALETTE)
        self.compact = compact
        self._arrays: tuple[np.ndarray, list[str], np.ndarray, np.ndarray] | None = None
        self._scale_values: np.ndarray | None = None
        self._cache_key: tuple | None = None
        self._lines: list[list[Segment]] = []
        self.renderable: HeatmapRenderable | None = None

    def data_changed(self) -> None:
        payload = self.data.heatmap if self.data else None
        self._arrays = heatmap_arrays(payload)
        raw = self.data.heatmap_raw if self.data else None
        self._scale_values = heatmap_arrays(raw)[2] if raw else None
        self._cache_key = None
        self._update_title()

    @property
    def metric(self) -> str:
        payload = self.data.heatmap if self.data else None
        return (payload or {}).get("metric") or self.settings.metric

    @property
    def mode(self) -> str:
        payload = self.data.heatmap if self.data else None
        return (payload or {}).get("mode") or self.settings.heatmap_mode

    @property
    def max_scroll_bars(self) -> int | None:
        """How far back the view can scroll (None before the first render)."""
        return self.renderable.view.max_scroll_bars if self.renderable and self.renderable.view else None

    def _update_title(self) -> None:
        per_row = self.settings.strikes_per_row
        view = self.renderable.view if self.renderable is not None else None
        scroll = view.scroll_bars if view is not None else self.settings.scroll_bars
        parts = [f"Heatmap · {self.metric.upper()} {self.mode}"]
        if per_row > 1:
            parts.append(f"{per_row} strikes/row")
        if scroll:
            parts.append(f"-{scroll}m")
        title = " · ".join(parts)
        if title != self.border_title:
            self.border_title = title

    def _build(self, width: int, height: int) -> list[list[Segment]]:
        key = (width, height, id(self._arrays), self.settings, self.palette)
        if key == self._cache_key:
            return self._lines
        strikes, times, values, spots = self._arrays or heatmap_arrays(None)
        snapshot = self.data.snapshot if self.data else None
        if not times:
            message = "no heatmap data in window" if self.data and self.data.heatmap is not None else "loading heatmap…"
            self._lines = [[Segment(message.center(width)[:width])]] + [[Segment(" " * width)]] * (height - 1)
            self.renderable = None
        else:
            center = fmt.dig(snapshot, "underlying_price")
            scale_values = (
                self._scale_values
                if self._scale_values is not None and self._scale_values.shape == values.shape
                else None
            )
            self.renderable = HeatmapRenderable(
                strikes,
                times,
                values,
                spots,
                level_labels(snapshot),
                width,
                height,
                self.palette,
                center=center,
                strikes_per_row=self.settings.strikes_per_row,
                scroll_bars=self.settings.scroll_bars,
                scale_values=scale_values,
                unit=metric_unit(self.metric, self.mode),
                legend=not self.compact,
                axis_width=7 if self.compact else 11,
            )
            self._lines = self.renderable.lines()
        self._cache_key = key
        self._update_title()
        return self._lines

    def render_line(self, y: int) -> Strip:
        width, height = self.content_size
        if width <= 0 or height <= 0:
            return Strip.blank(0)
        lines = self._build(width, height)
        if y >= len(lines):
            return Strip.blank(width, self.rich_style)
        # the widget's own style underneath: axis cells take the theme's background (light themes too)
        return Strip(lines[y]).adjust_cell_length(width).apply_style(self.rich_style)
