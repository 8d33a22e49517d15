"""The per-strike profile (issue 13): call and put GEX per strike around spot, settled and live
side by side on one scale, drawn with plotext."""

from __future__ import annotations

from rich.text import Text
from textual_plotext.plot import Plot

from zdte_tui.ui.widgets.profile import ProfilePane, draw_profile, profile_limit, profile_rows

from .fake_service import FakeFlowService
from .helpers import settle

SNAPSHOT = {"underlying_price": 591.2, "strikes": [
    {"strike": 589.0, "call_gex": 10.0, "put_gex": -40.0, "call_gex_settled": 12.0, "put_gex_settled": -20.0},
    {"strike": 590.0, "call_gex": 30.0, "put_gex": -5.0, "call_gex_settled": 25.0, "put_gex_settled": -5.0},
    {"strike": 591.0, "call_gex": 50.0, "put_gex": -1.0, "call_gex_settled": 60.0, "put_gex_settled": -2.0},
    {"strike": 592.0, "call_gex": 80.0, "put_gex": 0.0, "call_gex_settled": 90.0, "put_gex_settled": 0.0},
    {"strike": 600.0, "call_gex": 5.0, "put_gex": 0.0, "call_gex_settled": 5.0, "put_gex_settled": 0.0},
]}


def test_rows_are_the_strikes_nearest_spot_in_ascending_order():
    assert [r["strike"] for r in profile_rows(SNAPSHOT, 3)] == [590.0, 591.0, 592.0]


def test_both_books_share_the_largest_absolute_gex_as_their_scale():
    assert profile_limit(profile_rows(SNAPSHOT, 5)) == 90.0  # the settled 592 call


def test_draw_profile_labels_each_strike_and_the_book():
    plt = Plot()
    assert draw_profile(plt, profile_rows(SNAPSHOT, 4), "live", 90.0)
    plt.plotsize(40, 14)
    text = Text.from_ansi(plt.build()).plain
    assert "live" in text and "589" in text and "592" in text and "█" in text


def test_no_strikes_draws_nothing():
    assert not draw_profile(Plot(), profile_rows({}, 10), "live", 1.0)


async def test_p_swaps_the_side_slot_between_net_gex_and_the_strike_profile(make_app):
    from zdte_tui.ui.widgets.gex_profile import GexProfilePane

    async with make_app(service=FakeFlowService()).run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        pane, net = pilot.app.screen.query_one(ProfilePane), pilot.app.screen.query_one(GexProfilePane)
        assert net.display and not pane.display
        await pilot.press("p")
        await pilot.pause()
        assert pane.display and not net.display and pane.outer_size.width >= 30
        await pilot.press("p")
        await pilot.pause()
        assert net.display and not pane.display
