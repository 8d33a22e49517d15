"""Pure renderables and helpers, tested without an App."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.segment import Segment

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.renderables.chart import ChartSeries, LineChart
from zdte_tui.ui.renderables.heatmap import SPOT_MARKER, HeatmapRenderable
from zdte_tui.ui.renderables.palette import HeatmapPalette, get_palette
from zdte_tui.ui.state import ViewSettings, degraded_message, refresh_interval_seconds
from zdte_tui.ui.widgets.header import data_age_seconds, feed_badge, header_lines
from zdte_tui.ui.widgets.headline import headline_text
from zdte_tui.ui.widgets.signals import signal_row, visible_signals


def _line_text(line: list[Segment]) -> str:
    return "".join(s.text for s in line)


def _cell_width(line: list[Segment]) -> int:
    return sum(s.cell_length for s in line)


def _grid(values_by_strike: list[float], bars: int = 4) -> np.ndarray:
    return np.tile(np.asarray(values_by_strike, dtype=float), (bars, 1))


# ------------------------------------------------------------------ palette
def test_nan_maps_to_the_missing_color_not_to_neutral():
    palette = HeatmapPalette()
    assert palette.indices(np.array([np.nan]), scale=1.0)[0] == palette.missing_index


# ------------------------------------------------------------------ heatmap
def test_heatmap_puts_the_highest_strike_on_top():
    strikes = [100.0, 101.0, 102.0]
    r = HeatmapRenderable(strikes, ["10:00"] * 4, _grid([1, 2, 3]), [101.0] * 4, {}, width=20, height=4)
    lines = r.lines()
    assert _line_text(lines[0]).strip().startswith("102")
    assert _line_text(lines[2]).strip().startswith("100")


def test_heatmap_colors_follow_value_sign_per_row():
    strikes = [100.0, 101.0, 102.0]
    palette = get_palette()
    r = HeatmapRenderable(strikes, ["10:00"] * 4, _grid([-5.0, 0.0, 5.0]), [np.nan] * 4, {}, 20, 4, palette,
                          scale=5.0)
    top, middle, bottom = r.lines()[:3]
    # the last segment of each row is the grid run (no marker when spot is unknown)
    assert top[-1].style == palette.cell_styles[2 * palette.levels]  # +5 -> strongest positive
    assert middle[-1].style == palette.cell_styles[palette.levels]  # 0 -> neutral
    assert bottom[-1].style == palette.cell_styles[0]  # -5 -> strongest negative


def test_heatmap_marks_spot_in_the_row_of_the_nearest_strike():
    strikes = [100.0, 101.0, 102.0, 103.0]
    r = HeatmapRenderable(strikes, ["10:00", "10:01", "10:02"], _grid([1, 1, 1, 1], 3), [101.2, 101.4, 102.6],
                          {}, width=14, height=5)
    rows = [_line_text(line) for line in r.lines()[:4]]  # rows top->bottom: 103, 102, 101, 100
    assert rows[2].endswith(SPOT_MARKER * 2 + " ")  # 101.2 and 101.4 -> strike 101 (first two bars)
    assert rows[0].endswith(SPOT_MARKER)  # 102.6 -> strike 103 (last bar)
    assert SPOT_MARKER not in rows[1] and SPOT_MARKER not in rows[3]


def test_heatmap_lines_are_exactly_the_requested_size():
    rng = np.random.default_rng(3)
    strikes = np.arange(400.0, 600.0)
    values = rng.normal(size=(390, 200))
    r = HeatmapRenderable(strikes, ["10:00"] * 390, values, np.full(390, 500.0), {"CW": 550.0}, 150, 40)
    lines = r.lines()
    assert len(lines) == 40
    assert {_cell_width(line) for line in lines} == {150}


def test_heatmap_sums_adjacent_strikes_when_rows_are_scarce():
    strikes = [100.0, 101.0, 102.0, 103.0]
    r = HeatmapRenderable(strikes, ["10:00"], [[1.0, 2.0, 3.0, 4.0]], [np.nan], {}, width=12, height=3)
    r.lines()
    assert [list(g) for g in r.view.row_groups] == [[2, 3], [0, 1]]  # two rows, highest pair first


def test_heatmap_labels_walls_on_the_strike_axis():
    strikes = [100.0, 101.0, 102.0]
    r = HeatmapRenderable(strikes, ["10:00"], [[0, 0, 0]], [np.nan], {"CW": 102.0, "PW": 100.0}, 20, 4)
    lines = [_line_text(line) for line in r.lines()]
    assert "CW" in lines[0] and "PW" in lines[2]


def test_two_levels_on_one_row_are_both_named_when_the_axis_has_room():
    """Try-out: at 200x60 the row 766 read `CW+` while the magnet was 766 too. SPY's 3-digit strikes
    leave 7 cells of the 11-cell axis for tags (`CW·MAG`), SPX's 4-digit ones 6; when the tags do not
    fit, the first one and a `+`."""
    strikes = [764.0, 765.0, 766.0]
    r = HeatmapRenderable(strikes, ["10:00"], [[0, 0, 0]], [np.nan], {"CW": 766.0, "MAG": 766.0, "FLP": 764.9,
                                                                      "MP": 765.0}, 30, 4)
    lines = [_line_text(line) for line in r.lines()]
    assert lines[0].startswith("766 CW·MAG ") and lines[1].startswith("765 FLP·MP ")
    strikes = [7650.0, 7655.0, 7660.0]
    r = HeatmapRenderable(strikes, ["10:00"], [[0, 0, 0]], [np.nan], {"CW": 7660.0, "MAG": 7660.0}, 30, 4)
    assert _line_text(r.lines()[0]).startswith("7660 CW·MAG ")
    r = HeatmapRenderable(strikes, ["10:00"], [[0, 0, 0]], [np.nan], {"CW": 7660.0, "MAG": 7660.0, "MP": 7660.0},
                          30, 4)
    assert _line_text(r.lines()[0]).startswith("7660 CW+    ")


def test_heatmap_scroll_shows_older_bars_and_pads_newest_right():
    times = [f"10:{m:02d}" for m in range(30)]
    values = np.arange(30, dtype=float)[:, None] * np.ones((30, 2))
    r = HeatmapRenderable([1.0, 2.0], times, values, [np.nan] * 30, {}, width=11 + 10, height=3, scroll_bars=5)
    r.lines()
    assert (r.view.bar_start, r.view.bar_end) == (15, 25)


def test_heatmap_without_strikes_renders_a_message():
    r = HeatmapRenderable([], [], [], [], {}, 30, 3)
    assert "no strikes" in _line_text(r.lines()[0])


# ------------------------------------------------------------------ chart and panes
def test_line_chart_bounds_include_zero_and_all_series():
    chart = LineChart([ChartSeries("a", [1.0, 5.0], None), ChartSeries("b", [2.0, 3.0], None)], 20, 4)
    assert chart.bounds() == (0.0, 5.0)


def test_line_chart_draws_a_rising_line_bottom_left_to_top_right():
    from rich.style import Style

    chart = LineChart([ChartSeries("up", np.linspace(-1, 1, 40), Style())], 20, 4, axis_width=0)
    lines = chart.lines()
    assert _line_text(lines[-1])[0] != " " and _line_text(lines[0])[-1] != " "
    assert {_cell_width(line) for line in lines} == {20}


def test_line_chart_connects_a_jump_with_a_vertical_run_of_dots():
    """Hand-computed: [0, 1] in one 2x4-dot column pair, two cells high (8 dot rows, 0 = top).

    0 maps to dot row 7 (left column), 1 to dot row 0 (right column); the right column is filled
    between them (rows 1-6). Top cell: right rows 0-3 = 0x08|0x10|0x20|0x80; bottom cell: left
    row 7 (0x40) + right rows 4-6 (0x08|0x10|0x20)."""
    from rich.style import Style

    style = Style(color="green")
    lines = LineChart([ChartSeries("jump", [0.0, 1.0], style)], 1, 2, axis_width=0).lines()
    assert lines == [[Segment(chr(0x2800 + 0xB8), style)], [Segment(chr(0x2800 + 0x78), style)]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), max_size=60), max_size=3),
       st.integers(1, 40), st.integers(1, 8), st.integers(0, 9))
def test_line_chart_lines_fill_the_width_with_one_segment_per_style_run(values, width, height, axis_width):
    from rich.style import Style

    styles = [Style(color="green"), Style(color="red"), Style(color="green")]  # two equal styles merge too
    chart = LineChart([ChartSeries(str(i), v, styles[i]) for i, v in enumerate(values)], width, height,
                      axis_width=axis_width)
    lines = chart.lines()
    assert len(lines) == chart.height
    for line in lines:
        assert _cell_width(line) == chart.width
        assert all(a.style != b.style for a, b in zip(line, line[1:]))  # runs of one style are one segment


def test_signals_are_filtered_by_min_score_and_sorted_newest_first():
    payload = {"signals": [{"ts": "2026-06-05T15:00:00Z", "score": 90}, {"ts": "2026-06-05T16:00:00Z", "score": 40},
                           {"ts": "2026-06-05T17:00:00Z", "score": 75}]}
    assert [s["score"] for s in visible_signals(payload, 70)] == [75, 90]
    assert [s["score"] for s in visible_signals(payload, 0)] == [75, 40, 90]


@pytest.mark.parametrize("width", [30, 44, 72, 120])
def test_signal_row_fills_exactly_the_width(width):
    signal = {"ts": "2026-06-05T18:44:07Z", "strike": 590.0, "right": "C", "structure": "sweep",
              "aggressor": "above_ask", "premium": 1_860_000.0, "score": 87, "intent": "bullish",
              "tags": ["sweep", "opening", "whale"]}
    row = signal_row(signal, width)
    assert _cell_width(row) == width
    assert _line_text(row).startswith("14:44:07 590C")


def test_header_shows_simulated_badge_regime_and_errors():
    status = {"source": "sim", "label": "Simulator", "simulated": True, "session_time": "2026-06-05T18:45:00Z",
              "clock": {"paused": False, "speed": 1, "controllable": True},
              "data_as_of": {"flow_feed": "2026-06-05T18:44:30Z"}, "errors": ["feed gap 14:01-14:03"]}
    snapshot = {"underlying_price": 591.0, "prev_close": 590.0, "regime": {"label": "negative_gamma"},
                "flow_direction": {"label": "regime_flip"}}
    top, bottom = header_lines(status, snapshot, "SPY", ["heatmap: boom"], "monitor")
    assert "SIMULATED" in top.plain and "-GAMMA" in top.plain and "REGIME FLIP" in top.plain
    assert "+1.00 (+0.17%)" in top.plain
    assert "14:45:00 ET" in bottom.plain and "close in 1h15m" in bottom.plain
    assert "heatmap: boom" in bottom.plain and "(+1)" in bottom.plain
    assert data_age_seconds(status) == 30.0


@pytest.mark.parametrize(("channels", "badge"), [
    ({"options": {"connected": False, "retry_in_s": 3.6}, "stocks": {"connected": True}},
     "FEED DOWN options (retry 4s)"),
    ({"options": {"connected": True, "stale": True}}, "FEED STALE options"),
    ({"options": {"connected": True, "stale": False}}, None),
])
def test_header_shows_a_live_feed_that_is_down_or_stale(channels, badge):
    status = {"source": "massive", "label": "MASSIVE LIVE SPY", "session_time": "2026-06-05T18:45:00Z",
              "feed_health": {"channels": channels}}

    top, _ = header_lines(status, {}, "SPY", [], "monitor")

    assert feed_badge(status["feed_health"]) == badge
    assert (badge in top.plain) if badge else "FEED" not in top.plain


def test_headline_text_shows_setup_legs_and_probabilities(fake_service):
    text = headline_text(fake_service.snapshot("SPY")).plain
    assert "Iron fly at the magnet" in text and "short call 591" in text
    assert "Pin 590" in text and "Avoid Long straddle" in text


def test_degraded_message_names_the_next_0dte_expiry():
    no_0dte = {"symbol": "AAPL", "no_zero_dte": True, "next_zero_dte_expiry": "2026-06-12"}
    assert "2026-06-12" in degraded_message(no_0dte)
    closed = degraded_message({"session_closed": True, "last_session": "2026-06-05",
                               "next_zero_dte_expiry": "2026-06-08"})
    assert "2026-06-05" in closed and "2026-06-08" in closed
    assert degraded_message({"symbol": "SPY", "headline": {}}) is None


@pytest.mark.parametrize(("clock", "expected"), [
    ({"speed": 1.0}, 30.0), ({"speed": 10.0}, 3.0), ({"speed": 120.0}, 1.0), ({"speed": 0}, 1.0),
    ({"speed": 10.0, "paused": True}, 30.0), ({}, 30.0),
])
def test_refresh_interval_speeds_up_with_a_fast_clock(clock, expected):
    assert refresh_interval_seconds(30.0, {"clock": clock}) == expected


def test_view_settings_cycle_through_every_option():
    s = ViewSettings()
    metrics = [s.metric]
    for _ in range(6):
        s = s.next_metric()
        metrics.append(s.metric)
    assert metrics == ["gex", "dex", "vex", "chex", "oi", "signed_flow", "gex"]
    assert ViewSettings().zoom(-1).strikes_per_row == 2 and ViewSettings().zoom(1).strikes_per_row == 1
    assert ViewSettings().scroll(-15).scroll_bars == 0


@pytest.mark.parametrize(("value", "text"), [(1.84e9, "$1.84B"), (-9.2e6, "-$9.20M"), (512.0, "$512"), (None, "--")])
def test_money_short(value, text):
    assert fmt.money_short(value) == text


def test_et_clock_converts_utc_to_eastern():
    assert fmt.et_clock("2026-06-05T18:45:12Z", seconds=True) == "14:45:12"
    assert fmt.et_clock("2026-01-05T18:45:12Z") == "13:45"  # EST in winter
