"""The strike x time heatmap as a pure Rich renderable (no Textual, unit-tested directly).

Rows are strikes (highest on top), columns are 1-minute bars (newest on the right). A left
axis prints the strike and a level tag (CW call wall, PW put wall, MAG magnet, FLP gamma
flip, MP max pain); the bottom row prints ET times. The spot path is drawn as a marker in the
row of the strike nearest to each bar's spot.

Zoomed out, each row sums exactly ``strikes_per_row`` adjacent strikes (exposures add across
strikes; buckets are aligned on the strike grid and labelled ``low-high``). When more bars exist
than columns, the view shows the newest ``width - axis`` bars, shifted back by ``scroll_bars``
(clamped: the view never scrolls past the first bar); when fewer, the session so far is stretched
across the pane. A legend line prints the color ramp, the scale and its unit.

Speed: colors are computed for the whole view with numpy (:meth:`HeatmapPalette.indices`),
then each row is emitted as run-length Segments using cached Styles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

from zdte_tui.ui.renderables import join_lines
from zdte_tui.ui.renderables.palette import NEUTRAL_BAND, HeatmapPalette, get_palette, robust_scale

SPOT_MARKER = "●"
AXIS_STYLE = Style(color="grey62")
AXIS_SPOT_STYLE = Style(color="black", bgcolor="yellow", bold=True)
TAG_STYLE = Style(color="bright_cyan", bold=True)
TIME_STYLE = Style(color="grey62")
LEGEND_STYLE = Style(color="grey70")
EMPTY_STYLE = Style()

# Level tags in priority order when several fall on one row.
LEVEL_TAGS = ("CW", "PW", "MAG", "FLP", "MP")


@dataclass(frozen=True)
class HeatmapView:
    """What part of the grid is shown: computed once per render, exposed for tests."""

    strike_rows: np.ndarray  # lowest strike of each row, top row first (descending)
    row_groups: list[np.ndarray]  # strike indices summed into each row (exactly strikes_per_row each)
    bar_start: int  # first bar index shown
    bar_end: int  # one past the last bar index shown
    left_pad: int  # blank columns before the first bar (only when there are no bars)
    scale: float  # |value| mapped to the strongest color
    strikes_per_row: int = 1
    scroll_bars: int = 0  # the scroll actually applied (clamped so the view never runs past the oldest bar)
    max_scroll_bars: int = 0
    columns_per_bar: float = 1.0  # > 1 when the session so far is stretched to fill the pane


class _SegmentCache(dict):
    """code -> Segment where ``code = (palette_index * 2 + marked) * (n_cols + 1) + run_length``."""

    def __init__(self, palette: HeatmapPalette, n_cols: int) -> None:
        super().__init__()
        self.palette = palette
        self.stride = n_cols + 1

    def make(self, code: int) -> Segment:
        key, length = divmod(code, self.stride)
        index, marked = divmod(key, 2)
        if marked:
            segment = Segment(SPOT_MARKER * length, self.palette.marker_styles[index])
        else:
            segment = Segment(" " * length, self.palette.cell_styles[index])
        self[code] = segment
        return segment


_SEGMENT_CACHES: dict[tuple[int, int], _SegmentCache] = {}


def _segment_cache(palette: HeatmapPalette, n_cols: int) -> _SegmentCache:
    key = (id(palette), n_cols)
    cache = _SEGMENT_CACHES.get(key)
    if cache is None or cache.palette is not palette:
        if len(_SEGMENT_CACHES) > 32:
            _SEGMENT_CACHES.clear()
        cache = _SEGMENT_CACHES[key] = _SegmentCache(palette, n_cols)
    return cache


class HeatmapRenderable:
    """Render ``values[bar][strike]`` as a colored grid with a strike axis, a time axis and a legend.

    Args:
        strikes: ascending strikes (the API's ``strikes_grid``).
        times: one label per bar (``HH:MM`` ET), oldest first.
        values: ``(n_bars, n_strikes)`` array, ``values[bar][strike]`` as in the API.
        spot_path: spot per bar (NaN/None when unknown).
        labels: level tags, e.g. ``{"CW": 595.0, "PW": 585.0, "MAG": 590.0, "FLP": 588.5}``.
        width, height: size in cells (including axes and the legend line).
        palette: colors; defaults to the dark green/red palette.
        center: strike to center the view on (default: last spot).
        strikes_per_row: every row sums exactly this many adjacent strikes (buckets aligned on the
            strike grid, so a row never mixes single strikes with pairs); default: 1, or the
            fewest that fit ``zoom_strikes`` strikes into the rows.
        zoom_strikes: strikes wanted in view when ``strikes_per_row`` is not given.
        scroll_bars: how many bars back from the newest the right edge sits (clamped).
        scale: |value| for the strongest color (default: robust 98th percentile).
        scale_values: values the robust scale is taken from (bucketed like ``values``): the
            heatmap in raw mode when ``values`` is the delta, so both modes share one scale.
        unit: the unit printed on the legend (e.g. ``$/1% move``).
        legend: draw the legend line (color ramp, scale and unit) at the bottom.
    """

    def __init__(
        self,
        strikes: Sequence[float] | np.ndarray,
        times: Sequence[str],
        values: np.ndarray | Sequence[Sequence[float]],
        spot_path: Sequence[float | None] | np.ndarray,
        labels: Mapping[str, float | None] | None,
        width: int,
        height: int,
        palette: HeatmapPalette | None = None,
        *,
        center: float | None = None,
        zoom_strikes: int | None = None,
        strikes_per_row: int | None = None,
        scroll_bars: int = 0,
        scale: float | None = None,
        scale_values: np.ndarray | None = None,
        unit: str = "",
        legend: bool = False,
        axis_width: int = 11,
    ) -> None:
        self.strikes = np.asarray(strikes, dtype=np.float64)
        self.times = list(times)
        values_array = np.asarray(values, dtype=np.float64)
        if values_array.size == 0:
            values_array = np.zeros((len(self.times), len(self.strikes)), dtype=np.float64)
        self.values = (
            values_array.reshape(len(self.times), len(self.strikes)) if values_array.ndim != 2 else values_array
        )
        self.spot_path = np.asarray([np.nan if v is None else v for v in spot_path], dtype=np.float64)
        self.labels = {k: v for k, v in (labels or {}).items() if v is not None}
        self.width = max(1, int(width))
        self.height = max(1, int(height))
        self.palette = palette or get_palette()
        self.center = center
        self.zoom_strikes = zoom_strikes
        self.strikes_per_row = strikes_per_row
        self.scroll_bars = max(0, int(scroll_bars))
        self.fixed_scale = scale
        self.scale_values = None if scale_values is None else np.asarray(scale_values, dtype=np.float64)
        self.unit = unit
        self.legend = legend and self.height >= 4
        self.axis_width = min(axis_width, max(0, self.width - 1))
        self._lines: list[list[Segment]] | None = None
        self.view: HeatmapView | None = None

    # ----------------------------------------------------------------- layout
    def _per_row(self, grid_rows: int) -> int:
        n = len(self.strikes)
        if self.strikes_per_row is not None:
            return max(1, int(self.strikes_per_row))
        wanted = n if self.zoom_strikes is None else max(1, min(n, int(self.zoom_strikes)))
        return max(1, -(-wanted // max(1, grid_rows)))

    def _row_groups(self, grid_rows: int) -> tuple[list[np.ndarray], int]:
        """Buckets of exactly ``k`` strikes (aligned on index multiples of ``k``) around the center, top first."""
        n = len(self.strikes)
        k = min(self._per_row(grid_rows), n)
        n_buckets = max(1, n // k)
        center = self.center
        if center is None:
            finite = self.spot_path[np.isfinite(self.spot_path)]
            center = float(finite[-1]) if finite.size else float(self.strikes[n // 2])
        mid = int(np.clip(np.searchsorted(self.strikes, center), 0, n - 1))
        rows = max(1, min(grid_rows, n_buckets))
        first = int(np.clip(min(mid // k, n_buckets - 1) - rows // 2, 0, n_buckets - rows))
        groups = [np.arange(b * k, b * k + k) for b in range(first, first + rows)]
        groups.reverse()
        return groups, k

    def _columns(self, grid_cols: int) -> tuple[int, int, int, int]:
        """(bar_start, bar_end, applied scroll, max scroll): one bar per column, newest on the right."""
        n_bars = len(self.times)
        max_scroll = max(0, n_bars - grid_cols)
        scroll = min(self.scroll_bars, max_scroll)
        bar_end = n_bars - scroll
        return max(0, bar_end - grid_cols), bar_end, scroll, max_scroll

    def _scale(self, groups: list[np.ndarray], grid: np.ndarray) -> float:
        if self.fixed_scale:
            return float(self.fixed_scale)
        if (
            self.scale_values is not None
            and self.scale_values.ndim == 2
            and self.scale_values.shape[1] == len(self.strikes)
        ):
            source = np.where(np.isfinite(self.scale_values), self.scale_values, 0.0)
            starts = np.array([g[0] for g in reversed(groups)], dtype=np.intp)
            summed = np.add.reduceat(source[:, starts[0] : groups[0][-1] + 1], starts - starts[0], axis=1)
            return robust_scale(summed)
        return robust_scale(grid)

    # ----------------------------------------------------------------- render
    def lines(self) -> list[list[Segment]]:
        """All ``height`` lines, each exactly ``width`` cells (cached)."""
        if self._lines is None:
            self._lines = self._build()
        return self._lines

    def _build(self) -> list[list[Segment]]:
        width, height = self.width, self.height
        grid_rows = max(1, height - 1 - (1 if self.legend else 0))  # time axis (+ legend) below the grid
        if len(self.strikes) == 0:
            blank = [Segment(" " * width)]
            message = " no strikes in window ".center(width)[:width]
            return [[Segment(message, AXIS_STYLE)]] + [list(blank) for _ in range(height - 1)]

        groups, k = self._row_groups(grid_rows)
        strike_rows = np.array([self.strikes[g[0]] for g in groups])
        labels = [self._row_label(g) for g in groups]
        axis_w = self.axis_width
        label_w = max(len(t) for t in labels)
        # the level tags' column, when the caller left room for it: at least 4 cells, and whatever the
        # strike labels leave (SPY's 3-digit strikes leave 7, room for two tags, "CW·MAG")
        tag_w = max(4, axis_w - label_w - 1) if axis_w >= 10 else 0
        need = label_w + 1 + tag_w  # range labels ("585-589") are never cut
        if need > axis_w:
            axis_w = min(need, max(axis_w, width - 10))
        grid_cols = max(1, width - axis_w)
        bar_start, bar_end, scroll, max_scroll = self._columns(grid_cols)
        in_view = self.values[bar_start:bar_end].T  # strikes x bars
        starts_ascending = np.array([g[0] for g in reversed(groups)], dtype=np.intp)
        lo_index, hi_index = int(starts_ascending[0]), int(groups[0][-1]) + 1
        block = in_view[lo_index:hi_index]
        if block.shape[1] == 0:
            grid = np.zeros((len(groups), 0))
        else:
            finite_block = np.where(np.isfinite(block), block, 0.0)
            offsets = starts_ascending - lo_index
            grid = np.add.reduceat(finite_block, offsets, axis=0)[::-1]
            missing_rows = np.logical_and.reduceat(~np.isfinite(block), offsets, axis=0)[::-1]
            grid = np.where(missing_rows, np.nan, grid)
        scale = self._scale(groups, grid)
        n_visible = bar_end - bar_start
        # Stretch the session so far across the pane: column c shows bar floor(c * n / cols).
        if 0 < n_visible < grid_cols:
            column_bar = (np.arange(grid_cols) * n_visible) // grid_cols
            grid = grid[:, column_bar]
            left_pad = 0
        else:
            column_bar = np.arange(n_visible)
            left_pad = grid_cols - n_visible
        self.view = HeatmapView(
            strike_rows,
            groups,
            bar_start,
            bar_end,
            left_pad,
            scale,
            k,
            scroll,
            max_scroll,
            grid_cols / n_visible if 0 < n_visible < grid_cols else 1.0,
        )
        indices = self.palette.indices(grid, scale) if grid.size else np.zeros((len(groups), 0), np.int16)

        marker_rows = self._marker_rows(groups, bar_start + column_bar) if grid.shape[1] else np.zeros(0, np.int64)
        tag_of_row = self._row_tags(groups)
        spot_row = int(marker_rows[-1]) if marker_rows.size and marker_rows[-1] >= 0 else -1

        row_runs = self._grid_segments(indices, marker_rows)
        lines: list[list[Segment]] = []
        pad_segment = [Segment(" " * left_pad)] if left_pad else []
        for row in range(grid_rows):
            if row >= len(groups):
                lines.append([Segment(" " * width)])
                continue
            segments = self._axis_segments(labels[row], tag_of_row.get(row), row == spot_row, axis_w, tag_w)
            segments.extend(pad_segment)
            segments.extend(row_runs[row])
            lines.append(segments)
        lines.append(self._time_axis(bar_start + column_bar, left_pad, axis_w, grid_cols))
        if self.legend:
            lines.append(self.legend_segments(width, scale))
        return lines

    def _row_label(self, group: np.ndarray) -> str:
        lo, hi = self.strikes[group[0]], self.strikes[group[-1]]
        return _strike_text(lo) if group.size == 1 else f"{_strike_text(lo)}-{_strike_text(hi)}"

    def _edges(self, groups: list[np.ndarray]) -> np.ndarray:
        """Ascending strike boundaries of the rows: midpoints between neighbouring strikes."""
        ascending = list(reversed(groups))
        k = self.strikes
        lows = []
        for g in ascending:
            i = int(g[0])
            lows.append((k[i - 1] + k[i]) / 2 if i > 0 else k[i] - ((k[1] - k[0]) / 2 if k.size > 1 else 0.5))
        last = int(ascending[-1][-1])
        high = (
            (k[last] + k[last + 1]) / 2 if last + 1 < k.size else k[last] + ((k[-1] - k[-2]) / 2 if k.size > 1 else 0.5)
        )
        return np.array(lows + [high])

    def _marker_rows(self, groups: list[np.ndarray], bars: np.ndarray) -> np.ndarray:
        """Row index holding each column's spot (-1 when unknown or outside the rows in view)."""
        if self.spot_path.size:
            spots = self.spot_path[np.clip(bars, 0, self.spot_path.size - 1)]
        else:
            spots = np.full(bars.size, np.nan)
        edges = self._edges(groups)
        pos = np.searchsorted(edges, spots, side="right") - 1  # ascending row index
        outside = (pos < 0) | (pos >= len(groups)) | ~np.isfinite(spots)
        return np.where(outside, -1, (len(groups) - 1) - pos).astype(np.int64)

    def _row_tags(self, groups: list[np.ndarray]) -> dict[int, str]:
        tags: dict[int, list[str]] = {}
        if not groups:
            return {}
        edges = self._edges(groups)
        for tag in LEVEL_TAGS:
            level = self.labels.get(tag)
            if level is None:
                continue
            pos = int(np.searchsorted(edges, level, side="right")) - 1
            if 0 <= pos < len(groups):
                tags.setdefault(len(groups) - 1 - pos, []).append(tag)
        return {row: "·".join(names) for row, names in tags.items()}

    @staticmethod
    def _axis_segments(label: str, tag: str | None, is_spot: bool, axis_w: int, tag_w: int) -> list[Segment]:
        if axis_w <= 0:
            return []
        tag_w = min(tag_w, max(0, axis_w - 2))
        strike_w = axis_w - tag_w - 1
        strike_cell = label[:strike_w].rjust(strike_w) + " "
        out = [Segment(strike_cell, AXIS_SPOT_STYLE if is_spot else AXIS_STYLE)]
        if tag_w:
            if tag and len(tag) > tag_w:  # every tag when they fit ("CW·MAG"), else the first and a "+"
                tag = tag.split("·")[0][: tag_w - 1] + "+"
            out.append(Segment((tag or "").ljust(tag_w), TAG_STYLE if tag else AXIS_STYLE))
        return out

    def _grid_segments(self, indices: np.ndarray, marker_rows: np.ndarray) -> list[list[Segment]]:
        """Run-length encode every row at once: consecutive equal (color, marker) cells share one
        Segment; Segments are cached per (color, marker, run length) across renders."""
        n_rows, n_cols = indices.shape
        if n_cols == 0:
            return [[] for _ in range(n_rows)]
        marked = marker_rows[None, :] == np.arange(n_rows)[:, None]
        keys = (indices.astype(np.int64) * 2 + marked).ravel()
        change = np.empty(keys.size, dtype=bool)
        change[0] = True
        np.not_equal(keys[1:], keys[:-1], out=change[1:])
        change[::n_cols] = True  # a run never crosses a row boundary
        starts = np.flatnonzero(change)
        lengths = np.diff(np.append(starts, keys.size))
        codes = (keys[starts] * (n_cols + 1) + lengths).tolist()
        cache = _segment_cache(self.palette, n_cols)
        segments = [cache.get(c) or cache.make(c) for c in codes]
        bounds = np.searchsorted(starts, np.arange(0, n_rows + 1) * n_cols).tolist()
        return [segments[bounds[r] : bounds[r + 1]] for r in range(n_rows)]

    def _time_axis(self, bars: np.ndarray, left_pad: int, axis_w: int, grid_cols: int) -> list[Segment]:
        chars = [" "] * grid_cols
        last_label_end = -1
        previous = -1
        for offset, bar in enumerate(bars.tolist()):
            col = left_pad + offset
            if bar == previous:
                continue  # a stretched bar: label only its first column
            previous = bar
            label = self.times[bar]
            if len(label) >= 5 and label[-2:] in ("00", "15", "30", "45") and col > last_label_end + 1:
                if col + len(label) <= grid_cols:
                    chars[col : col + len(label)] = list(label)
                    last_label_end = col + len(label)
        return [Segment(" " * axis_w), Segment("".join(chars), TIME_STYLE)]

    def legend_segments(self, width: int, scale: float) -> list[Segment]:
        """``-`` ramp ``+ ±1.12B $/1% move · |v|<8% neutral``: exactly ``width`` cells."""
        palette = self.palette
        swatches = [Segment(" ", palette.cell_styles[i]) for i in range(2 * palette.levels + 1)]
        amount = _short(scale)
        text = f" ±{amount} {self.unit}".rstrip()
        neutral = f" · |v|<{_short(scale * NEUTRAL_BAND)} blank"
        out = [Segment("-", AXIS_STYLE), *swatches, Segment("+", AXIS_STYLE)]
        used = len(swatches) + 2
        for piece in (text, neutral):
            if used + len(piece) <= width:
                out.append(Segment(piece, LEGEND_STYLE))
                used += len(piece)
        if used > width:
            return [Segment(text.strip()[:width].ljust(width), LEGEND_STYLE)]
        out.append(Segment(" " * (width - used)))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from join_lines(self.lines())


def _strike_text(value: float) -> str:
    return f"{value:g}" if abs(value - round(value, 1)) < 1e-9 else f"{value:.1f}"


def _short(value: float) -> str:
    """``1.12e9`` -> ``1.12B`` (no currency sign: the unit on the legend says what it is)."""
    magnitude = abs(float(value))
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= threshold:
            scaled = magnitude / threshold
            return f"{scaled:.{2 if scaled < 10 else (1 if scaled < 100 else 0)}f}{suffix}"
    return f"{magnitude:.3g}"
