"""The net-premium tide pane (issue 13, tape: "a net-premium tide line, calls vs puts"): net call and
net put premium over the session from the series bars; `t` swaps it with the hedge flow, and both
show side by side from 190 columns."""

from __future__ import annotations

from rich.text import Text

from zdte_tui.ui.widgets.chart_plot import StablePlot
from zdte_tui.ui.widgets.hedge_flow import HedgeFlowPane
from zdte_tui.ui.widgets.tide import TidePane, draw_tide, tide_legend, tide_lines

from .helpers import settle


def _series(calls, puts):
    return {"bars": [{"t": f"2026-06-05T{13 + (30 + i) // 60:02d}:{(30 + i) % 60:02d}:00Z",
                      "net_call_premium_cumulative": c, "net_put_premium_cumulative": p}
                     for i, (c, p) in enumerate(zip(calls, puts, strict=True))]}


def test_legend_reads_the_last_bar_and_calls_minus_puts():
    series = _series([0.0, 1.5e6, 2.0e6], [0.0, -0.5e6, 3.0e6])
    assert tide_legend(series) == "calls +$2.00M · puts +$3.00M · C−P -$1.00M"


def test_bars_without_tide_fields_draw_nothing():
    plt = StablePlot()
    series = {"bars": [{"t": "2026-06-05T13:30:00Z", "spot": 590.0}]}
    assert tide_lines(series) == {} and tide_legend(series) == ""
    assert not draw_tide(plt, series)


def test_the_chart_spans_the_session_in_millions():
    plt = StablePlot()
    assert draw_tide(plt, _series([0.0, 4.0e6, 8.0e6] * 20, [0.0, -2.0e6, -6.0e6] * 20))
    plt.plotsize(60, 12)
    text = Text.from_ansi(plt.build()).plain
    assert "09:30" in text and "10:00" in text  # the ET session axis
    assert "8" in text and "-6" in text  # the y axis in $ millions spans both lines


async def test_t_swaps_the_hedge_flow_and_the_tide_and_both_show_when_wide(make_app, fake_service):
    app = make_app(service=fake_service)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        hedge, tide = app.screen.query_one(HedgeFlowPane), app.screen.query_one(TidePane)
        assert hedge.display and not tide.display
        await pilot.press("t")
        await settle(pilot)
        assert tide.display and not hedge.display
        bars = fake_service.series("SPY", "1m", 390)["bars"]
        calls, puts = bars[-1]["net_call_premium_cumulative"], bars[-1]["net_put_premium_cumulative"]
        assert str(tide.border_subtitle).startswith(f"calls {'+' if calls >= 0 else '-'}$")
        assert tide.border_subtitle == tide_legend(fake_service.series("SPY", "1m", 390))
        assert puts != 0.0
    async with make_app().run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        assert pilot.app.screen.query_one(HedgeFlowPane).display and pilot.app.screen.query_one(TidePane).display
