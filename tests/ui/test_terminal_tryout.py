"""What trying the monitor in a real terminal (tmux, 80x24 to 200x60, 256 colours and truecolour)
still found (issue 13, "Done when: you tried the whole list yourself"): each fixed, each pinned here.
Captures of those sessions: docs/screenshots/captures/."""

from __future__ import annotations

import pytest

from zdte_tui.service.protocol import ServiceError
from zdte_tui.ui.app import ZdteApp
from zdte_tui.ui.widgets.header import header_lines
from zdte_tui.ui.widgets.headline import headline_text
from zdte_tui.ui.widgets.levels import LevelsBar
from zdte_tui.ui.widgets.signals import SignalsTape

from .conftest import frozen_monotonic
from .fake_service import FakeFlowService
from .helpers import settle


def _app(service: FakeFlowService, **options) -> ZdteApp:
    return ZdteApp(service, symbols=["SPY"], truecolor=options.pop("truecolor", "always"), monotonic=frozen_monotonic,
                   **options)


async def test_a_refused_api_key_fills_the_screen_with_what_to_do_not_loading():
    service = FakeFlowService()
    service.fail_error = ServiceError("unauthorized", "missing or invalid API key", status=401)
    async with _app(service).run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert screen.has_class("-degraded")
        message = str(screen.query_one("#no-session").render())
        assert "refused the API key (401 unauthorized)" in message and "--api-key KEY" in message
        assert "loading" not in message


async def test_an_unreachable_service_at_start_says_so_and_that_it_retries():
    service = FakeFlowService()
    service.fail_error = ServiceError("unreachable", "cannot reach http://127.0.0.1:8787", status=503)
    async with _app(service).run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        message = str(pilot.app.screen.query_one("#no-session").render())
        assert "cannot reach http://127.0.0.1:8787" in message and "keeps retrying" in message
        service.fail_error = None  # the service comes back: the panes replace the message
        pilot.app.refresh_now()
        await settle(pilot)
        assert not pilot.app.screen.has_class("-degraded")


def test_a_replay_header_names_its_date_once():
    status = {"label": "REPLAY spy.parquet 2026-11-20", "session_date": "2026-11-20", "source": "replay",
              "session_time": "2026-11-20T16:50:07Z", "clock": {"paused": True, "speed": 1.0}}
    _top, bottom = header_lines(status, {"underlying_price": 761.34}, "SPY", [], "replay")
    assert bottom.plain.count("2026-11-20") == 1


def test_the_probabilities_come_before_alternatives_and_anti_setups(fake_service):
    """A short terminal cuts the headline from the bottom: the pin and range odds must not be what goes."""
    text = headline_text(fake_service.snapshot("SPY")).plain
    assert text.index("Pin 590") < text.index("alt ") < text.index("Avoid ")


@pytest.mark.parametrize("size", [(80, 24), (120, 35), (160, 48), (200, 60)])
@pytest.mark.parametrize("truecolor", ["always", "never"])
async def test_every_size_shows_the_key_levels_and_some_signal_rows(size, truecolor):
    async with _app(FakeFlowService(), truecolor=truecolor).run_test(size=size) as pilot:
        await settle(pilot)
        levels = pilot.app.screen.query_one(LevelsBar)
        line = levels.render().plain
        assert levels.region.height == 1 and levels.region.width == size[0]
        for tag in ("flip", "CW", "PW", "MAG", "MP"):
            assert f"{tag} " in line
        tape = pilot.app.screen.query_one(SignalsTape)
        assert tape.region.height - 2 >= 6  # at least the header row and five signals inside the border


def test_a_narrow_heatmap_never_cuts_a_strike_range_label():
    """80x24 watch cards showed `762-76` and `7655-7` for the rows 762-763 and 7655-7664."""
    import numpy as np
    from rich.console import Console

    from zdte_tui.ui.renderables.heatmap import HeatmapRenderable
    from zdte_tui.ui.renderables.palette import get_palette

    strikes = np.arange(7600.0, 7700.0, 5.0)
    values = np.ones((30, strikes.size))
    heatmap = HeatmapRenderable(strikes, [f"11:{m:02d}" for m in range(30)], values, np.full(30, 7642.0), {}, 37, 5,
                                get_palette(), center=7642.0, zoom_strikes=8, axis_width=7)
    console = Console(width=37, record=True, color_system=None)
    console.print(heatmap)
    rows = [line.split()[0] for line in console.export_text().splitlines()[:4] if line.strip()]
    assert rows and all(len(row.split("-")) == 2 and len(row.split("-")[1]) == 4 for row in rows), rows


def test_the_watch_header_has_no_orphan_spot_placeholder():
    """Try-out: the watch grid's header read `WATCH SPY QQQ IWM SPX  --   SIMULATED` (a spot of nobody)."""
    status = {"simulated": True, "session_time": "2026-12-01T15:30:06Z", "session_date": "2026-12-01"}
    top, _bottom = header_lines(status, None, "WATCH SPY QQQ IWM SPX", [], "watch")
    assert top.plain == " WATCH SPY QQQ IWM SPX    SIMULATED "
    top, _bottom = header_lines(status, None, "SPY", [], "monitor")
    assert top.plain.startswith(" SPY  --")  # one symbol still waiting for its first snapshot


def test_a_seek_being_loaded_shows_where_the_data_is_not_a_scary_age():
    """Try-out: `g 12:30` from 11:42 showed `12:30:00 ET (loading, data at 11:42:07) ... data 48m`:
    the age is the seek's distance, not stale data. While loading, the header says only where the data is."""
    status = {"session_time": "2026-12-01T16:42:07Z", "session_date": "2026-12-01", "source": "replay",
              "clock": {"now": "2026-12-01T17:30:00Z", "paused": True, "speed": 10.0, "controllable": True},
              "data_as_of": {"flow_feed": "2026-12-01T16:42:07Z"}}
    _top, bottom = header_lines(status, {"underlying_price": 764.2}, "SPY", [], "replay")
    assert "12:30:00 ET (loading, data at 11:42:07)" in bottom.plain
    assert "data 48m" not in bottom.plain and "  data " not in bottom.plain
    status["session_time"] = status["clock"]["now"]  # caught up: the age is back
    _top, bottom = header_lines(status, {"underlying_price": 763.12}, "SPY", [], "replay")
    assert "loading" not in bottom.plain and "  data " in bottom.plain
