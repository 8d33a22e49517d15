"""Smoke test: the app on the real embedded FlowService over the simulator (seed 7, 10:30 ET)."""

from __future__ import annotations

import pytest

from tests.ui.helpers import settle
from zdte_tui.service import FlowService
from zdte_tui.ui.app import ZdteApp
from zdte_tui.ui.screens.symbol import SymbolScreen
from zdte_tui.ui.widgets.heatmap import HeatmapPane
from zdte_tui.ui.widgets.signals import SignalsTape


@pytest.fixture
def sim_service():
    service = FlowService.from_sim(["SPY"], seed=7, at="10:30", speed=1.0)
    service.start()
    assert service.wait_ready()
    yield service
    service.stop()


async def test_monitor_runs_on_the_simulated_flow_service(sim_service):
    app = ZdteApp(sim_service, symbols=["SPY"], truecolor="always")
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SymbolScreen)
        assert app.errors == ()
        assert app.status is not None and app.status.get("simulated") is True
        assert app.screen.query_one(HeatmapPane).renderable is not None
        assert app.screen.query_one(SignalsTape).rows
