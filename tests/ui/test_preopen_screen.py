"""The pre-open screen: a real after-hours Cboe download opens the monitor on the projected session.

tests/data/cboe/spy_2025-05-16_1923.csv (saved Friday 19:23 ET) -> Monday 2025-05-19 open: the
header carries the DELAYED SNAPSHOT label, the levels/profile/heatmap panes have data, and the panes
that need intraday prints say so instead of staying empty."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.content import Content

from zdte_tui.service import FlowService
from zdte_tui.sources.cboe import CboeSnapshotSource
from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.app import ZdteApp
from zdte_tui.ui.screens.symbol import SymbolScreen
from zdte_tui.ui.widgets.gex_profile import GexProfilePane, profile_view
from zdte_tui.ui.widgets.hedge_flow import HedgeFlowPane
from zdte_tui.ui.widgets.signals import SignalsTape

from .helpers import settle

DATA = Path(__file__).parents[1] / "data" / "cboe" / "spy_2025-05-16_1923.csv"
LABEL = "DELAYED SNAPSHOT of 2025-05-16 19:23 ET - projected to the 2025-05-19 open"


def test_profile_view_marks_levels_inside_the_grid():
    snap = {"gex_profile": {"spots": [99.0, 100.0, 101.0], "net_gex": [-2e6, 0.0, 3e6], "spot": 100.0,
                            "gamma_flip": 100.0, "call_wall": 101.0, "put_wall": 90.0}}
    view = profile_view(snap)
    assert view is not None and view.net_gex_musd == (-2.0, 0.0, 3.0)
    assert view.markers == (("spot", 100.0), ("gamma_flip", 100.0), ("call_wall", 101.0))  # PW 90 is off the grid
    assert view.title.startswith("spot ") and "flip " in view.title and "CW " in view.title
    assert profile_view({"gex_profile": {"spots": [], "net_gex": []}}) is None and profile_view(None) is None


@pytest.fixture
def cboe_service():
    return FlowService(CboeSnapshotSource(DATA)).run_to_end()


async def test_after_hours_download_opens_the_projected_session(cboe_service):
    svc = cboe_service
    app = ZdteApp(svc, symbols=["SPY"], truecolor="always")
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SymbolScreen) and not screen.has_class("-degraded")
        assert app.status is not None and app.status["label"].startswith(LABEL)
        prof = screen.query_one(GexProfilePane)
        assert Content.from_markup(prof.border_subtitle).plain.startswith("spot · flip")
        note = fmt.no_intraday_flow_note(svc.snapshot("SPY"))
        assert note == "no intraday flow in a delayed snapshot (levels come from settled OI)"
        assert str(screen.query_one(HedgeFlowPane).render()) == note
        assert screen.query_one(SignalsTape).border_title == f"Signals · {note}"
