"""Diverging color palettes for the strike x time heatmap.

A palette has ``2 * levels + 1`` value colors: index ``levels`` is the neutral (zero) color,
``levels + k`` (k = 1..levels) are increasingly strong *positive* values and ``levels - k``
increasingly strong *negative* values. Index ``2 * levels + 1`` is "no data".

Colors are kept as truecolor RGB; with ``truecolor=False`` each is downgraded once to the
nearest xterm-256 color, so terminals without 24-bit color still get a readable ramp.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from rich.color import Color, ColorSystem
from rich.style import Style

RGB = tuple[int, int, int]

# name -> (negative strong, negative mid, neutral, positive mid, positive strong)
PALETTE_STOPS: dict[str, tuple[RGB, RGB, RGB, RGB, RGB]] = {
    "greenred": ((255, 120, 90), (170, 30, 45), (28, 30, 36), (20, 130, 80), (150, 255, 110)),
    "blueorange": ((255, 170, 60), (190, 80, 10), (28, 30, 36), (30, 100, 190), (140, 220, 255)),
}
DEFAULT_PALETTE = "greenred"
MISSING_RGB: RGB = (12, 12, 14)


def detect_truecolor(setting: str = "auto") -> bool:
    """``always``/``never`` force the answer; ``auto`` trusts ``$COLORTERM`` (truecolor/24bit)."""
    if setting in ("always", "true", "yes", "on"):
        return True
    if setting in ("never", "false", "no", "off", "256"):
        return False
    return os.environ.get("COLORTERM", "").lower() in ("truecolor", "24bit")


def _lerp(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _ramp(neutral: RGB, mid: RGB, strong: RGB, levels: int) -> list[RGB]:
    """``levels`` colors from just-off-neutral to ``strong``, passing ``mid`` halfway."""
    out = []
    for k in range(1, levels + 1):
        t = k / levels
        out.append(_lerp(neutral, mid, t * 2) if t <= 0.5 else _lerp(mid, strong, (t - 0.5) * 2))
    return out


def _contrast_text(rgb: RGB) -> Color:
    luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return Color.from_rgb(0, 0, 0) if luminance > 150 else Color.from_rgb(255, 255, 255)


@dataclass(frozen=True)
class HeatmapPalette:
    """Cached Rich styles for each palette index (cell background, and cell + spot marker)."""

    name: str = DEFAULT_PALETTE
    levels: int = 8
    truecolor: bool = True
    rgb: tuple[RGB, ...] = field(init=False)
    cell_styles: tuple[Style, ...] = field(init=False)
    marker_styles: tuple[Style, ...] = field(init=False)

    def __post_init__(self) -> None:
        neg_strong, neg_mid, neutral, pos_mid, pos_strong = PALETTE_STOPS.get(self.name, PALETTE_STOPS[DEFAULT_PALETTE])
        negative = _ramp(neutral, neg_mid, neg_strong, self.levels)[::-1]  # strongest first
        positive = _ramp(neutral, pos_mid, pos_strong, self.levels)
        rgb = tuple(negative + [neutral] + positive + [MISSING_RGB])
        cells, markers = [], []
        for value in rgb:
            color = Color.from_rgb(*value)
            if not self.truecolor:
                color = color.downgrade(ColorSystem.EIGHT_BIT)
            cells.append(Style(bgcolor=color))
            markers.append(Style(bgcolor=color, color=_contrast_text(value), bold=True))
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
        """Map values to palette indices: ``levels + sign(v) * ceil(|v| / scale * levels)``, clipped.

        ``scale`` defaults to the 98th percentile of ``|v|`` (robust to one huge wall); NaN maps
        to :attr:`missing_index`. Only exact zero is neutral: any nonzero value gets at least the
        faintest color of its sign, so sign is never lost.
        """
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if scale is None:
            scale = robust_scale(values)
        magnitude = np.zeros(values.shape, dtype=np.float64)
        np.divide(np.abs(values, where=finite, out=np.zeros_like(values)), scale, out=magnitude, where=finite)
        steps = np.clip(np.ceil(magnitude * self.levels), 1, self.levels).astype(np.int16)  # nonzero -> >= 1 step
        out = (self.levels + np.sign(np.where(finite, values, 0.0)).astype(np.int16) * steps).astype(np.int16)
        out[~finite] = self.missing_index
        return out


def robust_scale(values: np.ndarray) -> float:
    """98th percentile of the finite non-zero ``|values|`` (1.0 when there are none)."""
    flat = np.abs(np.asarray(values, dtype=np.float64).ravel())
    flat = flat[np.isfinite(flat) & (flat > 0)]
    if flat.size == 0:
        return 1.0
    k = int(round(0.98 * (flat.size - 1)))  # nearest-rank 98th percentile, O(n) via partition
    scale = float(np.partition(flat, k)[k])
    return scale if scale > 0 else float(flat.max())


@lru_cache(maxsize=8)
def get_palette(name: str = DEFAULT_PALETTE, levels: int = 8, truecolor: bool = True) -> HeatmapPalette:
    """Shared palette instances (their Style tables are built once)."""
    return HeatmapPalette(name=name, levels=levels, truecolor=truecolor)
