"""Heatmap render speed: 200 strikes x 390 one-minute bars into common pane sizes.

Run: ``python benchmarks/bench_render.py`` (target: <= 30 ms per full render at 200x60).
Measures HeatmapRenderable construction + all lines (numpy color indices, run-length Segments),
plus the 256-color palette, the whole-session overview (5 strikes per row) and the signals-tape
row renderer.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zdte_tui.ui.renderables.heatmap import HeatmapRenderable  # noqa: E402
from zdte_tui.ui.renderables.palette import get_palette  # noqa: E402
from zdte_tui.ui.widgets.signals import signal_row  # noqa: E402

TARGET_MS = 30.0


def synthetic_session(n_strikes: int = 200, n_bars: int = 390, seed: int = 0):
    rng = np.random.default_rng(seed)
    strikes = 500.0 + np.arange(n_strikes) - n_strikes / 2
    spot = 500.0 + np.cumsum(rng.normal(0, 0.2, n_bars))
    k, s = strikes[None, :], spot[:, None]
    values = 1e8 * (np.exp(-((k - s) / 6) ** 2) * np.sign(k - 497) + rng.normal(0, 0.05, (n_bars, n_strikes)))
    times = [f"{9 + (30 + m) // 60:02d}:{(30 + m) % 60:02d}" for m in range(n_bars)]
    labels = {"CW": 505.0, "PW": 494.0, "MAG": 500.0, "FLP": 497.0, "MP": 499.0}
    return strikes, times, values, spot, labels


def time_ms(fn, repeat: int = 30) -> tuple[float, float]:
    fn()  # warm caches (palette styles)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def main() -> int:
    strikes, times, values, spot, labels = synthetic_session()
    cases = [
        ("120x35 pane (76x21), 1 strike/row", 76, 21, None, True),
        ("200x60 pane (128x44), 1 strike/row", 128, 44, None, True),
        ("200x60 pane, whole grid (5 strikes/row)", 128, 44, 200, True),
        ("200x60 pane, 256-color palette", 128, 44, None, False),
        ("full 200x60 terminal as one heatmap", 200, 60, None, True),
    ]
    worst = 0.0
    print(f"heatmap: {len(strikes)} strikes x {len(times)} bars")
    for name, width, height, zoom, truecolor in cases:
        palette = get_palette(truecolor=truecolor)
        zoom_strikes = zoom or (height - 1)

        def render() -> None:
            HeatmapRenderable(strikes, times, values, spot, labels, width, height, palette,
                              zoom_strikes=zoom_strikes).lines()

        median, peak = time_ms(render)
        worst = max(worst, median)
        print(f"  {name:<44} median {median:6.2f} ms   max {peak:6.2f} ms")
    signal = {"ts": "2026-06-05T18:44:07Z", "strike": 590.0, "right": "C", "structure": "sweep",
              "aggressor": "above_ask", "premium": 1.86e6, "score": 87, "intent": "bullish", "tags": ["opening"]}
    median, _ = time_ms(lambda: [signal_row(signal, 72) for _ in range(60)])
    print(f"  signals tape: 60 rows at width 72                 median {median:6.2f} ms")
    verdict = "OK" if worst <= TARGET_MS else "SLOWER THAN TARGET"
    print(f"worst heatmap median {worst:.2f} ms (target <= {TARGET_MS:.0f} ms): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
