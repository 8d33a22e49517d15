"""The heatmap read at a glance (issue 13 item 2, defects 5 and 7): the color scale, its legend,
honest zoom and scroll, and the key levels visible at every terminal size."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.color import ColorSystem

from zdte_tui.ui.renderables.heatmap import HeatmapRenderable
from zdte_tui.ui.renderables.palette import NEUTRAL_BAND, HeatmapPalette, get_palette, luminance, xterm_rgb
from zdte_tui.ui.widgets.heatmap import HeatmapPane
from zdte_tui.ui.widgets.levels import LevelsBar, levels_line

from .fake_service import FakeFlowService
from .helpers import settle


def _text(line) -> str:
    return "".join(s.text for s in line)


# ---------------------------------------------------------------- the color scale
def test_palette_levels_by_magnitude_with_a_neutral_band_by_hand():
    palette = HeatmapPalette()  # 5 levels per sign, neutral = index 5, band 8 % of the scale
    # scale 4: |v| 0.2 is 5 % -> neutral; 1 is 25 % -> ceil((0.25-0.08)/0.92*5) = 1; 2.4 is 60 % -> 3; 4 -> 5
    indices = palette.indices(np.array([-4.0, -2.4, -1.0, -0.2, 0.0, 0.2, 1.0, 4.0, 9.0]), scale=4.0)
    assert indices.tolist() == [0, 2, 4, 5, 5, 5, 6, 10, 10]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=1, max_size=50), st.floats(1.0, 1e12))
def test_palette_level_never_has_the_wrong_sign_and_grows_with_magnitude(values, scale):
    palette = get_palette()
    v = np.array(values)
    level = palette.indices(v, scale) - palette.neutral_index
    assert np.all(level * np.sign(v) >= 0)  # never the opposite sign
    assert np.all((np.abs(v) >= NEUTRAL_BAND * scale * 1.0001) <= (level != 0))  # outside the band: colored
    order = np.argsort(np.abs(v), kind="stable")
    assert np.all(np.diff(np.abs(level[order])) >= 0)  # stronger |v| never gets a fainter level


def _lab(rgb):
    """sRGB -> CIELAB (D65), written from the published formulas for this test."""
    def lin(c):
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    f = [t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116 for t in (x, y, z)]
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("name", ["greenred", "blueorange"])
@pytest.mark.parametrize("dark", [True, False])
def test_each_ramp_moves_monotonically_away_from_neutral(name, dark):
    palette = get_palette(name, dark=dark)
    neutral = palette.neutral_index
    for ramp in (palette.rgb[neutral + 1:2 * neutral + 1], palette.rgb[neutral - 1::-1]):
        distance = [np.linalg.norm(_lab(c) - _lab(palette.rgb[neutral])) for c in ramp]
        assert all(b > a for a, b in zip(distance, distance[1:])), distance  # each level further from neutral
        lum = [luminance(c) for c in ramp]
        sign = 1 if dark else -1  # brighter with magnitude on a dark theme, darker on a light one
        assert all(sign * (b - a) > 0 for a, b in zip(lum, lum[1:])), lum


def test_truecolor_and_256_color_palettes_show_the_same_colors():
    true, eight_bit = get_palette(truecolor=True), get_palette(truecolor=False)
    for index, t, e in zip(true.xterm, true.cell_styles, eight_bit.cell_styles):
        assert e.bgcolor.number == index and e.bgcolor.system == ColorSystem.EIGHT_BIT
        assert t.bgcolor.get_truecolor() == e.bgcolor.get_truecolor() == xterm_rgb(index)
    assert len(set(true.xterm[:-1])) == len(true.xterm) - 1  # every level a distinct color


def test_legend_prints_the_ramp_the_scale_and_the_unit():
    r = HeatmapRenderable([1.0, 2.0], ["10:00"] * 3, np.ones((3, 2)), [np.nan] * 3, {}, 60, 6, scale=1.12e9,
                          unit="$/1% move", legend=True)
    legend = r.lines()[-1]
    assert _text(legend).startswith("-" + " " * 11 + "+ ±1.12B $/1% move")
    assert [s.style for s in legend[1:12]] == list(r.palette.cell_styles[:11])


def test_delta_is_colored_on_the_raw_scale_so_noise_stays_faint():
    rng = np.random.default_rng(1)
    raw = np.cumsum(rng.normal(0, 1, (50, 5)), axis=0) * 1e8 + 1e9
    delta = np.vstack([raw[:1], np.diff(raw, axis=0)])
    own = HeatmapRenderable(np.arange(5.0), ["10:00"] * 50, delta, [np.nan] * 50, {}, 61, 8)
    shared = HeatmapRenderable(np.arange(5.0), ["10:00"] * 50, delta, [np.nan] * 50, {}, 61, 8, scale_values=raw)
    own.lines()
    shared.lines()
    assert shared.view.scale > 5 * own.view.scale


# ---------------------------------------------------------------- 7. zoom and scroll are honest
@pytest.mark.parametrize("per_row", [2, 3, 5, 10])
def test_every_row_sums_exactly_the_strikes_the_title_says(per_row):
    strikes = np.arange(550.0, 631.0)
    r = HeatmapRenderable(strikes, ["10:00"], np.ones((1, strikes.size)), [590.3], {}, 40, 12,
                          strikes_per_row=per_row)
    r.lines()
    assert {len(g) for g in r.view.row_groups} == {per_row}
    assert all(g[0] % per_row == 0 for g in r.view.row_groups)  # buckets aligned on the strike grid
    labels = [_text(line)[:9].strip() for line in r.lines()[:len(r.view.row_groups)]]
    lo, hi = strikes[r.view.row_groups[0][0]], strikes[r.view.row_groups[0][-1]]
    assert labels[0].startswith(f"{lo:g}-{hi:g}")


def test_scroll_stops_at_the_first_bar_instead_of_showing_a_blank_pane():
    times = [f"10:{m:02d}" for m in range(40)]
    r = HeatmapRenderable([1.0, 2.0], times, np.ones((40, 2)), [np.nan] * 40, {}, width=11 + 30, height=4,
                          scroll_bars=90)
    r.lines()
    assert (r.view.bar_start, r.view.bar_end, r.view.scroll_bars, r.view.max_scroll_bars) == (0, 30, 10, 10)


def test_a_short_session_is_stretched_across_the_pane():
    times = [f"09:{m:02d}" for m in range(30, 40)]  # 10 bars, 40 columns
    r = HeatmapRenderable([1.0, 2.0], times, np.arange(20.0).reshape(10, 2), [np.nan] * 10, {}, 51, 4)
    lines = r.lines()
    assert r.view.left_pad == 0 and r.view.columns_per_bar == 4.0
    assert sum(s.cell_length for s in lines[0][2:]) == 40  # no blank pad before the first bar


async def test_pressing_left_many_times_never_scrolls_into_blank():
    from zdte_tui.ui.app import ZdteApp

    app = ZdteApp(FakeFlowService(at="10:15"), symbols=["SPY"], truecolor="always")
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        for _ in range(6):
            await pilot.press("left")
        await pilot.pause()
        pane = app.screen.query_one(HeatmapPane)
        assert app.settings.scroll_bars == pane.max_scroll_bars
        assert pane.renderable.view.bar_start == 0
        assert "-90m" not in pane.border_title


async def test_zoom_out_title_matches_rows():
    from zdte_tui.ui.app import ZdteApp

    app = ZdteApp(FakeFlowService(), symbols=["SPY"], truecolor="always")
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("o", "o", "o", "o")
        await pilot.pause()
        pane = app.screen.query_one(HeatmapPane)
        assert "10 strikes/row" in pane.border_title
        assert {len(g) for g in pane.renderable.view.row_groups} == {10}
        assert "588.5" not in "".join(_text(line) for line in pane.renderable.lines())


async def test_scale_label_follows_m_and_d_on_the_same_render():
    from zdte_tui.ui.app import ZdteApp

    app = ZdteApp(FakeFlowService(), symbols=["SPY"], truecolor="always")
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("m")  # dex
        await settle(pilot)
        pane = app.screen.query_one(HeatmapPane)
        legend = _text(pane.renderable.lines()[-1])
        assert "$ delta" in legend and "DEX" in pane.border_title
        await pilot.press("d")
        await settle(pilot)
        legend = _text(pane.renderable.lines()[-1])
        assert "Δ$ delta/min" in legend and "DEX delta" in pane.border_title


# ---------------------------------------------------------------- 5. key levels at every size
@pytest.mark.parametrize("size", [(80, 24), (120, 35), (160, 48), (200, 60)])
async def test_key_levels_and_legend_are_visible_at_every_size(size):
    from zdte_tui.ui.app import ZdteApp

    app = ZdteApp(FakeFlowService(), symbols=["SPY"], truecolor="always")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(LevelsBar)
        assert bar.region.width == size[0] and bar.region.height == 1
        text = levels_line(bar.snapshot, bar.region.width).plain
        for tag in ("flip 587.5", "CW 595", "PW 584", "MAG 590", "MP 589"):
            assert tag in text, (size, text)
        pane = app.screen.query_one(HeatmapPane)
        assert "$/1% move" in _text(pane.renderable.lines()[-1])
