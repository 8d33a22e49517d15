"""SourcePump.hold_after_first_symbol (issue 17, "Fast start"): with the hold on, the pump stops asking
the source for events once the first symbol's history is in, until the app has drawn its first screen
and calls release_hold; the source (the simulator builds symbols on demand) does not generate the other
symbols meanwhile."""

from __future__ import annotations

import numpy as np

from zdte_tui.market.events import ChainDefinition
from zdte_tui.service import FlowService

from .conftest import SESSION, ListSource


def _chain(symbol: str) -> ChainDefinition:
    return ChainDefinition(symbol, SESSION, np.array([590.0, 590.0]), np.array([True, False]), np.array([10, 10]))


class RecordingSource(ListSource):
    """Records which events the pump has asked for."""

    def __init__(self, events, symbols):
        super().__init__(events, symbols=symbols)
        self.asked: list[str] = []

    async def events(self):
        for e in self._events:
            self.asked.append(e.underlying)
            yield e


def test_the_second_symbol_is_asked_for_only_after_release():
    source = RecordingSource([_chain("SPY"), _chain("QQQ")], symbols=("SPY", "QQQ"))
    svc = FlowService(source)
    svc.hold_after_first_symbol(timeout=60.0)
    svc.start()
    try:
        assert svc.wait_ready(30, first_symbol_only=True)
        assert source.asked == ["SPY"]  # the pump holds before asking for the next event
        svc.release_hold()
        assert svc.wait_ready(30)
        assert source.asked == ["SPY", "QQQ"]
    finally:
        svc.stop()


def test_without_a_hold_the_pump_runs_through():
    source = RecordingSource([_chain("SPY"), _chain("QQQ")], symbols=("SPY", "QQQ"))
    svc = FlowService(source)
    svc.start()
    try:
        assert svc.wait_ready(30)
        assert source.asked == ["SPY", "QQQ"]
    finally:
        svc.stop()


def test_stop_releases_a_held_pump():
    source = RecordingSource([_chain("SPY"), _chain("QQQ")], symbols=("SPY", "QQQ"))
    svc = FlowService(source)
    svc.hold_after_first_symbol(timeout=600.0)
    svc.start()
    assert svc.wait_ready(30, first_symbol_only=True)
    svc.stop()  # returns without waiting out the hold
    assert source.asked[0] == "SPY"
