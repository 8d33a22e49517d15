"""Every level line has its own colour *on the terminal* (try-out of issue 13).

The charts used plotext's ANSI colour names (``red`` for the put wall, ``magenta`` for the magnet).
Textual does not send ANSI colours as they are: its ``ANSIToTruecolor`` filter re-maps them through
the app's ANSI theme, and the default dark theme (monokai) maps *both* red and magenta to #F4005F,
so the put wall and the magnet were one colour on the price chart and in its legend. These tests
run the rendered lines through the app's own filters, as the terminal receives them."""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.content import Content

from zdte_tui.ui.level_colors import LEVEL_RGB, level_rgb
from zdte_tui.ui.widgets.gex_profile import GexProfilePane
from zdte_tui.ui.widgets.price_chart import PriceChartPane

from .fake_service import FakeFlowService
from .helpers import settle


def terminal_colors(app, widget) -> set[tuple[int, int, int]]:
    """Foreground RGB of every non-blank cell of ``widget`` after the app's output filters."""
    background = Color(0, 0, 0)
    seen: set[tuple[int, int, int]] = set()
    for y in range(widget.size.height):
        segments: list[Segment] = list(widget.render_line(y))
        for line_filter in app._filters:
            segments = line_filter.apply(segments, background)
        for segment in segments:
            style = segment.style
            if style is None or style.color is None or not segment.text.strip():
                continue
            triplet = style.color.get_truecolor()
            seen.add((triplet.red, triplet.green, triplet.blue))
    return seen


def test_the_level_colours_are_six_different_colours_on_both_themes():
    for dark in (True, False):
        colors = [level_rgb(name, dark=dark) for name in LEVEL_RGB]
        assert len(set(colors)) == len(colors) == 6  # spot, flip, CW, PW, MAG, EM


async def test_put_wall_and_magnet_lines_differ_on_the_terminal(make_app):
    async with make_app(service=FakeFlowService()).run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        chart = pilot.app.screen.query_one(PriceChartPane)
        plot = chart.query_one("#price-plot")
        seen = terminal_colors(pilot.app, plot)
        for name in ("spot", "flip", "CW", "PW", "MAG", "EM"):
            assert level_rgb(name, dark=True) in seen, name
        # the legend names each line in the colour of that line
        legend = Content.from_markup(chart.border_subtitle)
        styles = {legend.plain[span.start:span.end]: str(span.style) for span in legend.spans}
        assert styles["PW"] != styles["MAG"]
        assert Color.parse(styles["PW"].split()[-1]).rgb == level_rgb("PW", dark=True)
        assert Color.parse(styles["MAG"].split()[-1]).rgb == level_rgb("MAG", dark=True)


async def test_gex_profile_marks_use_the_same_level_colours(make_app):
    async with make_app(service=FakeFlowService()).run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        pane = pilot.app.screen.query_one(GexProfilePane)
        seen = terminal_colors(pilot.app, pane.query_one("PlotextPlot"))
        for name in ("spot", "flip", "CW", "PW"):
            assert level_rgb(name, dark=True) in seen, name
        # the legend names every mark in full (values only when they fit: the levels bar has them)
        legend = Content.from_markup(pane.border_subtitle)
        assert legend.plain == "spot · flip · CW · PW" and legend.cell_length <= pane.size.width - 4
