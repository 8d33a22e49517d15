"""A small multi-series braille line chart (pure Rich renderable).

Each terminal cell holds a 2 x 4 braille dot matrix, so a ``width x height`` chart has
``2 * width`` x ``4 * height`` dots. All series share one y scale (so calls, puts and the
total hedge flow compare directly); a dim zero line is drawn when zero is in range. A left
axis shows the top and bottom values through a caller-supplied formatter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

from zdte_tui.ui.renderables import join_lines

BRAILLE_BASE = 0x2800
# Dot bit for (column 0/1, row 0..3 from the top) inside one braille cell.
_DOT_BITS = np.array([[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]], dtype=np.int64)
AXIS_STYLE = Style(color="grey50")
ZERO_STYLE = Style(color="grey35")


@dataclass(frozen=True)
class ChartSeries:
    """One line: values oldest first (NaN = gap) drawn in ``style``."""

    label: str
    values: Sequence[float] | np.ndarray
    style: Style


def _series_dots(values: np.ndarray, lo: float, hi: float, dots_w: int, dots_h: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``values`` to ``dots_w`` columns (last value per column) and map to dot rows (0 = top)."""
    n = values.size
    cols = np.arange(dots_w)
    src = np.minimum(((cols + 1) * n) // dots_w - 1, n - 1) if n >= dots_w else (cols * n) // dots_w
    sampled = values[src]
    span = hi - lo if hi > lo else 1.0
    rows = np.round((hi - sampled) / span * (dots_h - 1))
    ok = np.isfinite(rows)
    return cols[ok], rows[ok].astype(np.int64)


class LineChart:
    """Render ``series`` into a ``width x height`` braille chart with a ``axis_width`` y axis."""

    def __init__(self, series: Sequence[ChartSeries], width: int, height: int, *,
                 y_format: Callable[[float], str] = lambda v: f"{v:.3g}", axis_width: int = 8) -> None:
        self.series = list(series)
        self.width = max(1, width)
        self.height = max(1, height)
        self.y_format = y_format
        self.axis_width = min(axis_width, max(0, self.width - 2))

    def bounds(self) -> tuple[float, float]:
        """Shared (low, high) over all finite values, always including zero."""
        finite = [np.asarray(s.values, dtype=np.float64) for s in self.series]
        finite = [v[np.isfinite(v)] for v in finite if v.size]
        finite = [v for v in finite if v.size]
        if not finite:
            return -1.0, 1.0
        lo = min(0.0, min(float(v.min()) for v in finite))
        hi = max(0.0, max(float(v.max()) for v in finite))
        if hi == lo:
            hi, lo = hi + 1.0, lo - 1.0
        return lo, hi

    def lines(self) -> list[list[Segment]]:
        plot_w = max(1, self.width - self.axis_width)
        dots_w, dots_h = plot_w * 2, self.height * 4
        lo, hi = self.bounds()
        bits = np.zeros((self.height, plot_w), dtype=np.int64)
        owner = np.full((self.height, plot_w), -1, dtype=np.int64)
        for index, series in enumerate(self.series):
            values = np.asarray(series.values, dtype=np.float64)
            if values.size == 0:
                continue
            cols, rows = _series_dots(values, lo, hi, dots_w, dots_h)
            if cols.size > 1:  # connect consecutive points vertically so steep moves stay visible
                r0, r1 = rows[:-1], rows[1:]
                counts = np.maximum(np.abs(r1 - r0) - 1, 0)  # dots strictly between the two rows
                if counts.any():
                    starts = np.minimum(r0, r1) + 1
                    total = int(counts.sum())
                    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
                    cols = np.concatenate([cols, np.repeat(cols[1:], counts)])
                    rows = np.concatenate([rows, np.repeat(starts, counts) + offsets])
            cell_r, cell_c = rows // 4, cols // 2
            np.bitwise_or.at(bits, (cell_r, cell_c), _DOT_BITS[cols % 2, rows % 4])
            owner[cell_r, cell_c] = index
        zero_row = int(round((hi - 0.0) / (hi - lo) * (dots_h - 1))) // 4 if lo < 0 < hi else -1

        # One character and one style key per cell (series index; -1 blank, -2 zero line), then one
        # Segment per run of equal styles: the same segments Segment.simplify gives cell by cell.
        styles: list[Style | None] = [s.style for s in self.series]
        first_equal = np.array([styles.index(st) for st in styles] or [0], dtype=np.int64)
        chars = np.where(bits > 0, bits + BRAILLE_BASE, ord(" "))
        keys = np.where(bits > 0, first_equal[np.maximum(owner, 0)], -1)
        if 0 <= zero_row < self.height:
            blank = bits[zero_row] == 0
            chars[zero_row, blank] = ord("┄")
            keys[zero_row, blank] = -2
        key_styles = {-1: None, -2: ZERO_STYLE, **dict(enumerate(styles))}
        out: list[list[Segment]] = []
        for y in range(self.height):
            if y == 0:
                axis = self.y_format(hi)
            elif y == self.height - 1:
                axis = self.y_format(lo)
            elif y == zero_row:
                axis = "0"
            else:
                axis = ""
            label = axis[: self.axis_width - 1].rjust(self.axis_width - 1) + " "
            segments = [Segment(label, AXIS_STYLE)] if self.axis_width else []
            row_keys = keys[y]
            text = "".join(map(chr, chars[y].tolist()))
            bounds = [0, *(np.flatnonzero(row_keys[1:] != row_keys[:-1]) + 1).tolist(), plot_w]
            for start, end in zip(bounds[:-1], bounds[1:]):
                style = key_styles[int(row_keys[start])]
                segments.append(Segment(text[start:end], style) if style is not None else Segment(text[start:end]))
            out.append(list(Segment.simplify(segments)))  # merges the axis label too if styles match
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from join_lines(self.lines())
