"""The price chart (issue 13, "a price chart with the levels"): spot with flip, walls, magnet and
the expected-move band, drawn by plotext; `c` swaps it with the heatmap, both show when wide."""

from __future__ import annotations

from textual_plotext.plot import Plot

from zdte_tui.ui.level_colors import level_style
from zdte_tui.ui.widgets.heatmap import HeatmapPane
from zdte_tui.ui.widgets.price_chart import PriceChartPane, chart_legend, chart_lines, draw_price_chart

from .fake_service import FakeFlowService
from .helpers import settle


def _plain(plt: Plot, width: int = 100, height: int = 24) -> str:
    plt.plotsize(width, height)
    from rich.text import Text

    return Text.from_ansi(plt.build()).plain


def test_chart_draws_spot_levels_and_the_expected_move_band(fake_service):
    plt = Plot()
    snapshot = fake_service.snapshot("SPY")
    assert draw_price_chart(plt, fake_service.series("SPY", "1m", 390), snapshot)
    text = _plain(plt)
    assert "flip" not in text  # no legend over the first minutes of the session: it is the subtitle
    legend = chart_legend(fake_service.series("SPY", "1m", 390), snapshot)
    assert legend.plain == "spot · flip · CW · PW · MAG · EM"
    assert [span.style for span in legend.spans] == [level_style(name) for name in ("spot", "flip", "CW", "PW",
                                                                                     "MAG", "EM")]
    assert "09:30" in text and "14:30" in text  # the session axis in ET
    # the y axis spans the put wall (584) to the call wall (595)
    assert "583" in text or "584" in text
    assert "595" in text or "596" in text


def test_level_lines_follow_the_levels_bar_by_bar(fake_service):
    series = fake_service.series("SPY", "1m", 30)
    for bar in series["bars"][15:]:
        bar["call_wall"] = 600.0  # the call wall moved up mid-window
    _xs, cw = chart_lines(series, None)["CW"]
    assert cw[:15] == [595.0] * 15 and cw[15:] == [600.0] * 15


def test_no_series_bars_draws_nothing():
    assert not draw_price_chart(Plot(), {"bars": []}, None)


async def test_c_swaps_heatmap_and_chart_and_both_show_when_wide(make_app):
    async with make_app(service=FakeFlowService()).run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        heatmap, chart = pilot.app.screen.query_one(HeatmapPane), pilot.app.screen.query_one(PriceChartPane)
        assert heatmap.display and not chart.display
        await pilot.press("c")
        await pilot.pause()
        assert chart.display and not heatmap.display and chart.size.width > 40
    async with make_app(service=FakeFlowService()).run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        heatmap, chart = pilot.app.screen.query_one(HeatmapPane), pilot.app.screen.query_one(PriceChartPane)
        assert heatmap.display and chart.display
