"""The strike x time heatmap as a pure Rich renderable (no Textual, unit-tested directly).

Rows are strikes (highest on top), columns are 1-minute bars (newest on the right). A left
axis prints the strike and a level tag (CW call wall, PW put wall, MAG magnet, FLP gamma
flip, MP max pain); the bottom row prints ET times. The spot path is drawn as a marker in the
row of the strike nearest to each bar's spot.

When more strikes are in view than there are rows, adjacent strikes are summed into one
row (exposures add across strikes); when more bars exist than columns, the view shows the
newest ``width - axis`` bars, shifted back by ``scroll_bars``.

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

from zdte_tui.ui.renderables.palette import HeatmapPalette, get_palette, robust_scale

SPOT_MARKER = "●"
AXIS_STYLE = Style(color="grey62")
AXIS_SPOT_STYLE = Style(color="black", bgcolor="yellow", bold=True)
TAG_STYLE = Style(color="bright_cyan", bold=True)
TIME_STYLE = Style(color="grey62")
EMPTY_STYLE = Style()

# Level tags in priority order when several fall on one row.
LEVEL_TAGS = ("CW", "PW", "MAG", "FLP", "MP")


@dataclass(frozen=True)
class HeatmapView:
    """What part of the grid is shown: computed once per render, exposed for tests."""

    strike_rows: np.ndarray  # representative strike per row, top row first (descending)
    row_groups: list[np.ndarray]  # strike indices summed into each row, same order
    bar_start: int  # first bar index shown
    bar_end: int  # one past the last bar index shown
    left_pad: int  # blank columns before the first bar (when bars < columns)
    scale: float  # |value| mapped to the strongest color


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
    """Render ``values[bar][strike]`` as a colored grid with a strike axis and a time axis.

    Args:
        strikes: ascending strikes (the API's ``strikes_grid``).
        times: one label per bar (``HH:MM`` ET), oldest first.
        values: ``(n_bars, n_strikes)`` array, ``values[bar][strike]`` as in the API.
        spot_path: spot per bar (NaN/None when unknown).
        labels: level tags, e.g. ``{"CW": 595.0, "PW": 585.0, "MAG": 590.0, "FLP": 588.5}``.
        width, height: size in cells (including axes).
        palette: colors; defaults to the truecolor green/red palette.
        center: strike to center the view on (default: last spot).
        zoom_strikes: strikes in view (default: all).
        scroll_bars: how many bars back from the newest the right edge sits.
        scale: |value| for the strongest color (default: robust 98th percentile of the view).
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
        scroll_bars: int = 0,
        scale: float | None = None,
        axis_width: int = 11,
    ) -> None:
        self.strikes = np.asarray(strikes, dtype=np.float64)
        self.times = list(times)
        values_array = np.asarray(values, dtype=np.float64)
        if values_array.size == 0:
            values_array = np.zeros((len(self.times), len(self.strikes)), dtype=np.float64)
        self.values = (values_array.reshape(len(self.times), len(self.strikes)) if values_array.ndim != 2
                       else values_array)
        self.spot_path = np.asarray([np.nan if v is None else v for v in spot_path], dtype=np.float64)
        self.labels = {k: v for k, v in (labels or {}).items() if v is not None}
        self.width = max(1, int(width))
        self.height = max(1, int(height))
        self.palette = palette or get_palette()
        self.center = center
        self.zoom_strikes = zoom_strikes
        self.scroll_bars = max(0, int(scroll_bars))
        self.fixed_scale = scale
        self.axis_width = min(axis_width, max(0, self.width - 1))
        self._lines: list[list[Segment]] | None = None
        self.view: HeatmapView | None = None

    # ----------------------------------------------------------------- layout
    def _strike_window(self) -> tuple[int, int]:
        """Index range [lo, hi) of strikes in view, centered on ``center`` (or the last spot)."""
        n = len(self.strikes)
        if self.zoom_strikes is None or self.zoom_strikes >= n:
            return 0, n
        count = max(1, int(self.zoom_strikes))
        center = self.center
        if center is None:
            finite = self.spot_path[np.isfinite(self.spot_path)]
            center = float(finite[-1]) if finite.size else float(self.strikes[n // 2])
        mid = int(np.clip(np.searchsorted(self.strikes, center), 0, n - 1))
        lo = int(np.clip(mid - count // 2, 0, n - count))
        return lo, lo + count

    def _layout(self, grid_rows: int, grid_cols: int) -> HeatmapView:
        lo, hi = self._strike_window()
        n_in_view = hi - lo
        rows = max(1, min(grid_rows, n_in_view))
        # Ascending groups of adjacent strikes, then flipped so the highest strike is on top.
        groups = [g + lo for g in np.array_split(np.arange(n_in_view), rows) if g.size]
        groups.reverse()
        strike_rows = np.array([self.strikes[g].mean() for g in groups]) if groups else np.empty(0)
        n_bars = len(self.times)
        bar_end = max(0, n_bars - self.scroll_bars)
        bar_start = max(0, bar_end - grid_cols)
        left_pad = grid_cols - (bar_end - bar_start)
        return HeatmapView(strike_rows, groups, bar_start, bar_end, left_pad, 1.0)

    # ----------------------------------------------------------------- render
    def lines(self) -> list[list[Segment]]:
        """All ``height`` lines, each exactly ``width`` cells (cached)."""
        if self._lines is None:
            self._lines = self._build()
        return self._lines

    def _build(self) -> list[list[Segment]]:
        width, height, axis_w = self.width, self.height, self.axis_width
        grid_rows = max(1, height - 1)  # last line is the time axis
        grid_cols = max(1, width - axis_w)
        if len(self.strikes) == 0:
            blank = [Segment(" " * width)]
            message = " no strikes in window ".center(width)[:width]
            return [[Segment(message, AXIS_STYLE)]] + [list(blank) for _ in range(height - 1)]

        view = self._layout(grid_rows, grid_cols)
        bars = slice(view.bar_start, view.bar_end)
        in_view = self.values[bars].T  # strikes x bars
        # Sum strikes of each row group (vectorized with reduceat over ascending starts).
        starts_ascending = np.array([g[0] for g in reversed(view.row_groups)], dtype=np.intp)
        finite_view = np.where(np.isfinite(in_view), in_view, 0.0)
        if in_view.shape[1] == 0:
            grid = np.zeros((len(starts_ascending), 0))
        else:
            grid = np.add.reduceat(finite_view, starts_ascending, axis=0)[::-1]
            all_missing = ~np.isfinite(in_view)
            missing_rows = np.logical_and.reduceat(all_missing, starts_ascending, axis=0)[::-1]
            grid = np.where(missing_rows, np.nan, grid)
        scale = self.fixed_scale if self.fixed_scale else robust_scale(grid)
        self.view = HeatmapView(view.strike_rows, view.row_groups, view.bar_start, view.bar_end, view.left_pad, scale)
        indices = self.palette.indices(grid, scale) if grid.size else np.zeros((len(view.row_groups), 0), np.int16)

        marker_rows = self._marker_rows(view, grid.shape[1])  # -1 = no marker in that column
        n_rows = len(view.row_groups)
        tag_of_row = self._row_tags(view)
        spot_row = int(marker_rows[-1]) if marker_rows.size and marker_rows[-1] >= 0 else -1

        row_runs = self._grid_segments(indices, marker_rows)
        lines: list[list[Segment]] = []
        pad_segment = [Segment(" " * view.left_pad)] if view.left_pad else []
        for row in range(grid_rows):
            if row >= n_rows:
                lines.append([Segment(" " * width)])
                continue
            segments = self._axis_segments(view.strike_rows[row], tag_of_row.get(row), row == spot_row, axis_w)
            segments.extend(pad_segment)
            segments.extend(row_runs[row])
            lines.append(segments)
        lines.append(self._time_axis(view, axis_w, grid_cols))
        return lines

    def _marker_rows(self, view: HeatmapView, n_cols: int) -> np.ndarray:
        """Row index of the strike nearest to each visible bar's spot (-1 when spot unknown)."""
        spots = self.spot_path[view.bar_start:view.bar_end] if self.spot_path.size else np.full(n_cols, np.nan)
        if spots.size != n_cols:
            spots = np.resize(spots, n_cols) if spots.size else np.full(n_cols, np.nan)
        ascending = view.strike_rows[::-1]
        if ascending.size == 0:
            return np.full(n_cols, -1)
        if ascending.size > 1:
            pos = np.clip(np.searchsorted(ascending, spots), 1, max(1, ascending.size - 1))
        else:
            pos = np.zeros(n_cols, int)
        if ascending.size > 1:
            left = ascending[pos - 1]
            right = ascending[pos]
            pos = np.where(np.abs(spots - left) <= np.abs(spots - right), pos - 1, pos)
        rows = (ascending.size - 1) - pos
        # Spots outside the view get no marker.
        half_step = (np.diff(ascending).max() / 2) if ascending.size > 1 else np.inf
        outside = (spots < ascending[0] - half_step) | (spots > ascending[-1] + half_step) | ~np.isfinite(spots)
        return np.where(outside, -1, rows).astype(np.int64)

    def _row_tags(self, view: HeatmapView) -> dict[int, str]:
        tags: dict[int, list[str]] = {}
        if not view.row_groups:
            return {}
        for tag in LEVEL_TAGS:
            level = self.labels.get(tag)
            if level is None:
                continue
            for row, group in enumerate(view.row_groups):
                lo_strike, hi_strike = self.strikes[group[0]], self.strikes[group[-1]]
                step = (self.strikes[1] - self.strikes[0]) if len(self.strikes) > 1 else 1.0
                if lo_strike - step / 2 <= level <= hi_strike + step / 2:
                    tags.setdefault(row, []).append(tag)
                    break
        return {row: (names[0] + ("+" if len(names) > 1 else "")) for row, names in tags.items()}

    @staticmethod
    def _axis_segments(strike_value: float, tag: str | None, is_spot: bool, axis_w: int) -> list[Segment]:
        if axis_w <= 0:
            return []
        tag_w = 4 if axis_w >= 10 else 0
        whole_tenth = abs(strike_value - round(strike_value, 1)) < 1e-9
        strike_text = f"{strike_value:g}" if whole_tenth else f"{strike_value:.1f}"
        strike_w = axis_w - tag_w - 1
        strike_cell = strike_text[:strike_w].rjust(strike_w) + " "
        out = [Segment(strike_cell, AXIS_SPOT_STYLE if is_spot else AXIS_STYLE)]
        if tag_w:
            out.append(Segment((tag or "").ljust(tag_w)[:tag_w], TAG_STYLE if tag else AXIS_STYLE))
        return out

    def _grid_segments(self, indices: np.ndarray, marker_rows: np.ndarray) -> list[list[Segment]]:
        """Run-length encode every row at once: consecutive equal (color, marker) cells share one
        Segment; Segments are cached per (color, marker, run length) across renders."""
        n_rows, n_cols = indices.shape
        if n_cols == 0:
            return [[] for _ in range(n_rows)]
        marked = (marker_rows[None, :] == np.arange(n_rows)[:, None])
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
        return [segments[bounds[r]:bounds[r + 1]] for r in range(n_rows)]

    def _time_axis(self, view: HeatmapView, axis_w: int, grid_cols: int) -> list[Segment]:
        chars = [" "] * grid_cols
        last_label_end = -1
        for col_offset, bar in enumerate(range(view.bar_start, view.bar_end)):
            col = view.left_pad + col_offset
            label = self.times[bar]
            if len(label) >= 5 and label[-2:] in ("00", "15", "30", "45") and col > last_label_end + 1:
                if col + len(label) <= grid_cols:
                    chars[col:col + len(label)] = list(label)
                    last_label_end = col + len(label)
        return [Segment(" " * axis_w), Segment("".join(chars), TIME_STYLE)]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self.lines()
        for i, line in enumerate(lines):
            yield from line
            if i < len(lines) - 1:
                yield Segment.line()
