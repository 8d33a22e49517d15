"""The net-GEX-vs-spot pane reads at every size (try-out of issue 13): its title and legend were cut
at 120 and 200 columns (``GEX profile ($M / 1% v…``, ``spot 763.79 · flip 765…``), leaving its four
vertical marks unlabelled, and its y axis showed raw min/mid/max numbers (``4413.3 578.1 -3257.1``)."""

from __future__ import annotations

from textual.content import Content

from zdte_tui.ui.widgets.gex_profile import GexProfilePane, profile_view, y_ticks

from .fake_service import FakeFlowService
from .helpers import settle

SNAP = {"gex_profile": {"spots": [725.6, 763.8, 802.0], "net_gex": [-3257.1e6, 4413.3e6, 578.1e6],
                        "spot": 763.79, "gamma_flip": 765.08, "call_wall": 766.0, "put_wall": 760.0}}


def test_y_axis_is_labelled_in_dollars_at_bottom_zero_and_top():
    assert y_ticks((-3257.1, 4413.3, 578.1)) == ([-3257.1, 0.0, 4413.3], ["-$3.26B", "0", "+$4.41B"])
    assert y_ticks((12.0, 30.0)) == ([12.0, 30.0], ["+$12.0M", "+$30.0M"])  # no zero outside the curve


def test_legend_has_values_when_they_fit_else_the_names_alone():
    view = profile_view(SNAP)
    assert view is not None
    assert view.legend(80).plain == "spot 763.79 · flip 765.08 · CW 766 · PW 760"
    assert view.legend(30).plain == "spot · flip · CW · PW"  # never "flip 765…"


async def test_title_and_legend_fit_the_pane_at_every_size(make_app):
    for size in ((120, 35), (160, 48), (200, 60)):
        async with make_app(service=FakeFlowService()).run_test(size=size) as pilot:
            await settle(pilot)
            pane = pilot.app.screen.query_one(GexProfilePane)
            room = pane.size.width - 4  # the corners and a space each side
            assert len(pane.border_title) <= room, size
            legend = Content.from_markup(pane.border_subtitle)
            assert legend.cell_length <= room and legend.plain.startswith("spot"), size
            assert "flip" in legend.plain and "CW" in legend.plain, size
