"""Switching symbols with `s` (try-out of issue 13, replay x60 at 160x48): going back to a symbol
already on screen showed a blank `zdte / connecting… / levels: waiting for data…` until the next poll
came back (seconds on a busy replay), because the app pushed the data before the new screen was the
active one. The view toggles (`c` chart, `t` tide, `p` per-strike profile) were also lost."""

from __future__ import annotations

import threading

from zdte_tui.ui.screens.symbol import SymbolScreen
from zdte_tui.ui.widgets.header import StatusHeader

from .fake_service import FakeFlowService
from .helpers import settle


class GatedService(FakeFlowService):
    """A fake whose snapshot calls block while ``gate`` is closed: a slow poll in flight."""

    def __init__(self) -> None:
        super().__init__(symbols=("SPY", "QQQ"))
        self.gate = threading.Event()
        self.gate.set()

    def snapshot(self, symbol, expiry=None):
        self.gate.wait(timeout=30)
        return super().snapshot(symbol, expiry)


def header_text(app) -> str:
    return "\n".join(line.plain for line in app.screen.query_one(StatusHeader)._lines)


async def test_going_back_to_a_symbol_shows_its_data_before_the_next_poll(make_app):
    service = GatedService()
    async with make_app(symbols=("SPY", "QQQ"), service=service).run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("a")  # the alert log, opened and closed, as in the try-out
        await pilot.press("escape")
        await pilot.press("s")
        await settle(pilot)
        assert pilot.app.screen.symbol == "QQQ" and "QQQ" in header_text(pilot.app)
        service.gate.clear()  # the next poll hangs
        # and the app's own "push the data after the next refresh" does not reach the new screen (on a
        # busy terminal it ran before the switch was done; the headless pilot switches at once, so it
        # is dropped here): the screen must fill itself when it becomes the active one
        pilot.app.call_after_refresh = lambda callback, *args, **kwargs: None
        try:
            await pilot.press("s")
            for _ in range(5):
                await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, SymbolScreen) and screen.symbol == "SPY"
            text = header_text(pilot.app)
            assert text.startswith(" SPY  591.") and "connecting" not in text, text
        finally:
            service.gate.set()
        await settle(pilot)


async def test_view_toggles_survive_a_symbol_switch(make_app):
    app = make_app(symbols=("SPY", "QQQ"), service=FakeFlowService(symbols=("SPY", "QQQ")))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        for key in ("c", "t", "p"):
            await pilot.press(key)
        await pilot.press("s")
        await settle(pilot)
        screen = pilot.app.screen
        assert screen.symbol == "QQQ"
        assert all(screen.has_class(view) for view in ("-chart", "-tide", "-strike-profile"))


async def test_closing_a_modal_shows_what_arrived_while_it_was_open(make_app):
    """While the help or the alert log is open the polls go on, but their data went to the modal; the
    monitor behind it showed the old minute until the next poll after closing."""
    service = FakeFlowService(symbols=("SPY", "QQQ"))
    async with make_app(symbols=("SPY", "QQQ"), service=service).run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "14:45:00 ET" in header_text(pilot.app)
        await pilot.press("a")
        await settle(pilot)
        service.control("step", 60)
        pilot.app.refresh_now()
        await settle(pilot)
        await pilot.press("escape")
        for _ in range(3):
            await pilot.pause()
        assert "14:46:00 ET" in header_text(pilot.app)
