"""Diverging color scales for the strike x time heatmap.

A palette has ``2 * levels + 1`` value colors: index ``levels`` is the neutral band around
zero, ``levels + k`` (k = 1..levels) are increasingly strong *positive* values and
``levels - k`` increasingly strong *negative* values. Index ``2 * levels + 1`` is "no data".

The mapping is by magnitude relative to a robust scale ``s`` (98th percentile of ``|v|``)::

    m = |v| / s
    m <  NEUTRAL_BAND               -> neutral (the row reads as "nothing here")
    m >= NEUTRAL_BAND               -> level ceil((m - band) / (1 - band) * levels), clipped to levels

Every color is an exact entry of the xterm-256 palette, given with its RGB: a truecolor
terminal and a 256-color terminal therefore show *the same* colors and the same legend (no
lossy downgrade). Each ramp rises monotonically in luminance away from the neutral color on
a dark theme (and falls on a light theme), with one hue per sign, so a stronger cell always
looks stronger (tested).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.style import Style

RGB = tuple[int, int, int]
NEUTRAL_BAND = 0.08  # |v| below 8 % of the scale is drawn neutral
LEVELS = 5


def xterm_rgb(index: int) -> RGB:
    """RGB of an xterm-256 color index (16-231 cube, 232-255 grey ramp)."""
    if 16 <= index <= 231:
        i = index - 16
        steps = (0, 95, 135, 175, 215, 255)
        return steps[i // 36], steps[(i // 6) % 6], steps[i % 6]
    if 232 <= index <= 255:
        v = 8 + 10 * (index - 232)
        return v, v, v
    raise ValueError(f"only xterm indices 16-255 are used, got {index}")


# name -> dark theme? -> (negative ramp faint->strong, neutral, positive ramp faint->strong, missing),
# as xterm-256 indices; each ramp moves away from neutral in CIELAB and in luminance (tested)
SCALES: dict[str, dict[bool, tuple[tuple[int, ...], int, tuple[int, ...], int]]] = {
    "greenred": {
        True: ((52, 88, 124, 160, 196), 234, (22, 28, 34, 40, 46), 232),
        False: ((224, 217, 210, 203, 196), 255, (194, 157, 120, 83, 46), 252),
    },
    "blueorange": {  # for red/green colour blindness: positive blue, negative orange
        True: ((58, 94, 130, 166, 202), 234, (17, 18, 19, 20, 21), 232),
        False: ((230, 223, 216, 209, 202), 255, (195, 159, 123, 87, 51), 252),
    },
}
DEFAULT_PALETTE = "greenred"


def detect_truecolor(setting: str = "auto") -> bool:
    """``always``/``never`` force the answer; ``auto`` trusts ``$COLORTERM`` (truecolor/24bit)."""
    if setting in ("always", "true", "yes", "on"):
        return True
    if setting in ("never", "false", "no", "off", "256"):
        return False
    return os.environ.get("COLORTERM", "").lower() in ("truecolor", "24bit")


def luminance(rgb: RGB) -> float:
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]


def _contrast_text(rgb: RGB) -> Color:
    return Color.from_rgb(0, 0, 0) if luminance(rgb) > 140 else Color.from_rgb(255, 255, 255)


@dataclass(frozen=True)
class HeatmapPalette:
    """Cached Rich styles for each palette index (cell background, and cell + spot marker)."""

    name: str = DEFAULT_PALETTE
    truecolor: bool = True
    dark: bool = True
    levels: int = field(init=False, default=LEVELS)
    xterm: tuple[int, ...] = field(init=False)
    rgb: tuple[RGB, ...] = field(init=False)
    cell_styles: tuple[Style, ...] = field(init=False)
    marker_styles: tuple[Style, ...] = field(init=False)

    def __post_init__(self) -> None:
        negative, neutral, positive, missing = SCALES.get(self.name, SCALES[DEFAULT_PALETTE])[self.dark]
        xterm = tuple(list(negative)[::-1] + [neutral] + list(positive) + [missing])  # strongest negative first
        rgb = tuple(xterm_rgb(i) for i in xterm)
        cells, markers = [], []
        for index, value in zip(xterm, rgb):
            color = Color.from_rgb(*value) if self.truecolor else Color.from_ansi(index)
            cells.append(Style(bgcolor=color))
            markers.append(Style(bgcolor=color, color=_contrast_text(value), bold=True))
        object.__setattr__(self, "levels", len(positive))
        object.__setattr__(self, "xterm", xterm)
        object.__setattr__(self, "rgb", rgb)
        object.__setattr__(self, "cell_styles", tuple(cells))
        object.__setattr__(self, "marker_styles", tuple(markers))

    @property
    def neutral_index(self) -> int:
        return self.levels

    @property
    def missing_index(self) -> int:
        return 2 * self.levels + 1

    def indices(self, values: np.ndarray, scale: float | None = None) -> np.ndarray:
        """Map values to palette indices (see the module docstring); NaN -> :attr:`missing_index`."""
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if scale is None:
            scale = robust_scale(values)
        scale = float(scale) if scale and scale > 0 else 1.0
        magnitude = np.zeros(values.shape, dtype=np.float64)
        np.divide(np.abs(values, where=finite, out=np.zeros_like(values)), scale, out=magnitude, where=finite)
        steps = np.ceil((magnitude - NEUTRAL_BAND) / (1.0 - NEUTRAL_BAND) * self.levels)
        steps = np.clip(steps, 0, self.levels).astype(np.int16)
        steps[magnitude < NEUTRAL_BAND] = 0
        out = (self.levels + np.sign(np.where(finite, values, 0.0)).astype(np.int16) * steps).astype(np.int16)
        out[~finite] = self.missing_index
        return out

    def level_bounds(self, scale: float) -> list[tuple[float, float]]:
        """``[low, high)`` of ``|v|`` for the neutral band and each positive level (the legend's numbers)."""
        edges = [0.0, NEUTRAL_BAND] + [
            NEUTRAL_BAND + (1 - NEUTRAL_BAND) * k / self.levels for k in range(1, self.levels + 1)
        ]
        bounds = [(edges[i] * scale, edges[i + 1] * scale) for i in range(len(edges) - 1)]
        bounds[-1] = (bounds[-1][0], float("inf"))
        return bounds


def robust_scale(values: np.ndarray) -> float:
    """98th percentile of the finite non-zero ``|values|`` (1.0 when there are none)."""
    flat = np.abs(np.asarray(values, dtype=np.float64).ravel())
    flat = flat[np.isfinite(flat) & (flat > 0)]
    if flat.size == 0:
        return 1.0
    k = int(round(0.98 * (flat.size - 1)))  # nearest-rank 98th percentile, O(n) via partition
    scale = float(np.partition(flat, k)[k])
    return scale if scale > 0 else float(flat.max())


@lru_cache(maxsize=16)
def get_palette(name: str = DEFAULT_PALETTE, truecolor: bool = True, dark: bool = True) -> HeatmapPalette:
    """Shared palette instances (their Style tables are built once)."""
    return HeatmapPalette(name=name, truecolor=truecolor, dark=dark)
