"""What a trader sees: the clock, seeks, outages, half days, symbol switching and labels
(issue 13 defects 1, 3, 4, 6, 8 and 9). Pilot tests on the deterministic fake service; time
only moves through an injected monotonic clock, never by sleeping."""

from __future__ import annotations

from zdte_tui.service.protocol import ServiceError
from zdte_tui.ui.app import ZdteApp
from zdte_tui.ui.screens.symbol import SymbolScreen
from zdte_tui.ui.widgets.header import StatusHeader, header_lines
from zdte_tui.ui.widgets.headline import headline_text
from zdte_tui.ui.widgets.hedge_flow import hedge_flow_renderable
from zdte_tui.ui.widgets.leaderboard import LeaderboardPane
from zdte_tui.ui.widgets.signals import signal_row

from .fake_service import FakeFlowService
from .helpers import settle

SIZE = (120, 35)


class FakeMonotonic:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def header_text(app: ZdteApp) -> str:
    return "\n".join(line.plain for line in app.screen.query_one(StatusHeader)._lines)


def make(service: FakeFlowService, mono: FakeMonotonic | None = None, **options) -> ZdteApp:
    symbols = options.pop("symbols", ["SPY"])
    return ZdteApp(service, symbols=symbols, truecolor="always", monotonic=mono or FakeMonotonic(), **options)


# ---------------------------------------------------------------- 4. the clock ticks locally
async def test_header_clock_and_data_age_advance_every_second_without_a_poll():
    mono = FakeMonotonic()
    service = FakeFlowService()  # 14:45:00, feeds stamped 1 s and 3 s before
    async with make(service, mono).run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "14:45:00 ET" in header_text(pilot.app) and "data 1s" in header_text(pilot.app)
        polls = len(service.calls)
        mono.t += 7
        pilot.app.tick()
        await pilot.pause()
        assert "14:45:07 ET" in header_text(pilot.app)
        assert "data 8s" in header_text(pilot.app)  # the real age of what is on screen
        assert len(service.calls) == polls  # no service call was needed


async def test_paused_clock_does_not_tick():
    mono = FakeMonotonic()
    service = FakeFlowService(source="replay")
    service.paused = True
    async with make(service, mono, mode="replay").run_test(size=SIZE) as pilot:
        await settle(pilot)
        mono.t += 30
        pilot.app.tick()
        await pilot.pause()
        assert "14:45:00 ET" in header_text(pilot.app)


# ---------------------------------------------------------------- 1. replay seeking
async def test_seek_shows_the_new_time_at_once_while_data_catches_up():
    mono = FakeMonotonic()
    service = FakeFlowService(source="replay", ingest_lag_polls=10_000)  # data catches up only when told
    async with make(service, mono, mode="replay").run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        # the playback clock answered 14:40 at once; the data still says 14:45
        text = header_text(pilot.app)
        assert "14:40:00 ET" in text and "loading, data at 14:45:00" in text
        service._lag_left = 0  # the engine has ingested the seek
        pilot.app.refresh_now()
        await settle(pilot)
        assert "14:40:00 ET" in header_text(pilot.app) and "loading" not in header_text(pilot.app)


async def test_two_back_seeks_compound_from_the_service_clock_not_a_stale_time():
    service = FakeFlowService(source="replay", ingest_lag_polls=10_000)
    async with make(service, mode="replay").run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        seeks = [args[1] for name, args in service.calls if name == "control" and args[0] == "seek"]
        assert seeks == ["2026-06-05T18:40:00Z", "2026-06-05T18:35:00Z"]  # 14:40 then 14:35 ET
        assert "14:35:00 ET" in header_text(pilot.app)


async def test_catching_up_polls_quickly():
    service = FakeFlowService(source="replay", ingest_lag_polls=10_000)
    async with make(service, mode="replay").run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert pilot.app.display_clock.catching_up
        assert pilot.app._timer is not None
        assert pilot.app._timer._interval <= ZdteApp.CATCH_UP_RETRY_SECONDS


async def test_end_of_recording_says_so_instead_of_play():
    service = FakeFlowService(source="replay", at="15:59")
    async with make(service, mode="replay").run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = header_text(pilot.app)
        assert "END of session" in text and "PLAY" not in text


def test_after_the_close_the_header_says_market_closed_not_close_in_closed():
    status = {"session_time": "2026-06-05T20:00:00Z", "clock": {"speed": 1.0}}
    snapshot = {"as_of": "2026-06-05T20:00:00Z", "time_to_close_hours": 0.0}
    _, bottom = header_lines(status, snapshot, "SPY", [], "monitor")
    assert "market closed at 16:00" in bottom.plain and "close in" not in bottom.plain


# ---------------------------------------------------------------- 3. outages and a bad key
async def test_server_outage_keeps_the_last_data_with_a_stale_banner():
    service = FakeFlowService()
    async with make(service).run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        before = screen.query_one("#heatmap").renderable
        assert before is not None
        service.fail_error = ServiceError("unreachable", "cannot reach http://127.0.0.1:8787", status=503)
        pilot.app.refresh_now()
        await settle(pilot)
        text = header_text(pilot.app)
        assert "STALE: showing data of 14:45:00 ET" in text and "unreachable" in text
        assert screen.query_one("#heatmap").renderable is not None  # not back to "loading…"
        assert pilot.app.data["SPY"].snapshot is not None
        service.fail_error = None
        pilot.app.refresh_now()
        await settle(pilot)
        assert "STALE" not in header_text(pilot.app)


async def test_wrong_api_key_says_401_and_what_to_do():
    service = FakeFlowService()
    service.fail_error = ServiceError("unauthorized", "missing or invalid API key", status=401)
    async with make(service).run_test(size=(200, 40)) as pilot:
        await settle(pilot)
        errors = " ".join(pilot.app.errors)
        assert "401 unauthorized" in errors and "--api-key" in errors
        assert "401 unauthorized" in header_text(pilot.app)


# ---------------------------------------------------------------- 6. half days
async def test_half_day_counts_down_to_the_1300_close():
    service = FakeFlowService(at="10:45", close_hhmm="13:00")
    async with make(service).run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = header_text(pilot.app)
        assert "close in 2h15m (13:00)" in text


# ---------------------------------------------------------------- 8. symbol switching
async def test_s_switches_to_another_tracked_symbol_when_started_on_one():
    service = FakeFlowService()
    async with make(service, symbols=["SPY"]).run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert pilot.app.known_symbols == ["SPY", "QQQ", "IWM", "SPX"]
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(pilot.app.screen, SymbolScreen) and pilot.app.screen.symbol == "QQQ"


async def test_palette_lists_every_tracked_symbol():
    async with make(FakeFlowService(), symbols=["SPY"]).run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in pilot.app.get_system_commands(pilot.app.screen)]
        assert {"Symbol: SPY", "Symbol: QQQ", "Symbol: IWM", "Symbol: SPX"} <= set(titles)


class WarmingBoard(FakeFlowService):
    """A leaderboard that ranks only the focused symbol for the first polls (others warming up)."""

    def __init__(self) -> None:
        super().__init__()
        self.board_calls = 0

    def leaderboard(self, metric="heat", n=10):
        body = super().leaderboard(metric, n)
        self.board_calls += 1
        if self.board_calls <= 2:
            body["entries"] = [e for e in body["entries"] if e["symbol"] == "SPY"]
        return body


async def test_leaderboard_is_polled_quickly_until_every_tracked_symbol_is_ranked():
    service = WarmingBoard()
    async with make(service).run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert pilot.app._timer._interval <= ZdteApp.WARMING_RETRY_SECONDS
        pilot.app.refresh_now()
        await settle(pilot)
        pilot.app.refresh_now()
        await settle(pilot)
        entries = pilot.app.screen.query_one(LeaderboardPane).extra["board"]["entries"]
        assert len(entries) == 4
        assert pilot.app._timer._interval == 30.0


# ---------------------------------------------------------------- 9. labels that contradicted each other
def test_a_setup_without_legs_prints_no_legs_line():
    snapshot = {"headline": {"severity": "info", "narrative": "x"},
                "setup": {"primary": {"name": "no_trade", "display_name": "No trade", "confidence": 0.67,
                                      "strikes_hint": {"structure": "none", "legs": []}}}}
    text = headline_text(snapshot).plain
    assert "legs:" not in text and "none:" not in text


def test_a_setup_shows_its_conditions_met_not_a_percentage():
    """Setup confidence is a rule score (met weight share, halved per failed key condition), not a
    probability: the pane shows the count of conditions met, and the score only when it is below 1."""
    all_met = {"id": "gamma_flip_momentum", "display_name": "Gamma-flip cross momentum", "confidence": 1.0,
               "conditions_met": ["a", "b", "c", "d"], "conditions_failed": []}
    one_failed = {"id": "pin_iron_fly", "display_name": "Pin iron fly", "confidence": 0.36,
                  "conditions_met": ["a", "b", "c"], "conditions_failed": ["key"]}
    snapshot = {"headline": {"severity": "alert", "narrative": "x"},
                "setup": {"primary": all_met, "alternatives": [one_failed]}}
    text = headline_text(snapshot).plain
    assert "Setup Gamma-flip cross momentum  4/4 met" in text
    assert "alt Pin iron fly (3/4 met · 0.36)" in text
    assert "%" not in text.split("Pin ")[0]


def test_no_trade_shows_why_instead_of_a_score():
    """no_trade's confidence is 1 - the best play's score: a number a trader would read as certainty, so
    the pane says why there is no trade instead."""
    why = "no setup reached 0.50 confidence (best: Pin iron fly 0.42)"
    snapshot = {"headline": {"severity": "info", "narrative": "x"},
                "setup": {"primary": {"id": "no_trade", "display_name": "No trade", "confidence": 0.58,
                                      "conditions_met": [why], "conditions_failed": [],
                                      "strikes_hint": {"structure": "none", "legs": []}}}}
    text = headline_text(snapshot).plain
    assert "Setup No trade\n" in text and f"why: {why}" in text
    assert "58" not in text


def test_hedge_flow_legend_shows_the_same_spot_as_the_header(fake_service):
    series = fake_service.series("SPY", "1m", 390)
    series["bars"][-1]["spot"] = 605.44  # the last bar's spot lags the live quote
    text = hedge_flow_renderable(series, None, 100, 8, spot=605.02).renderables[0].plain
    assert "spot 605.02" in text and "605.44" not in text


# ---------------------------------------------------------------- 11. cosmetics
async def test_signal_tags_are_not_cut_at_200_columns():
    from zdte_tui.ui.widgets.signals import SignalsTape, _cells

    async with make(FakeFlowService()).run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        tape = pilot.app.screen.query_one(SignalsTape)
        width = tape.scrollable_content_region.width
        for row in tape.rows[:20]:
            tags = _cells(row)["tags"]
            line = "".join(seg.text for seg in signal_row(row, width))
            assert tags in line, (tags, line)


def test_the_hedge_flow_legend_is_never_cut_inside_a_number():
    """Try-out: 120x35 showed `... last bar -$21.7M  spot 76…`, 80x24 `■ calls +$468M  ■ puts +$21.2M …`
    (the total, `■ all`, lost). Whole pieces only: the three legs always, compact when narrow."""
    import numpy as np

    from zdte_tui.ui.widgets.hedge_flow import hedge_legend

    arrays = {"calls": np.array([1e8, 468e6]), "puts": np.array([0.0, 21.2e6]), "all": np.array([1e8, 489.2e6]),
              "spot": np.array([763.5, 763.79])}
    full = "■ calls +$468M  ■ puts +$21.2M  ■ all +$489M  last bar -$21.7M  spot 763.79"
    assert hedge_legend(arrays, -21.7e6, 763.79, 100).plain == full
    assert hedge_legend(arrays, -21.7e6, 763.79, 72).plain == full.removesuffix("  spot 763.79")
    assert hedge_legend(arrays, -21.7e6, 763.79, 46).plain == "■ calls +$468M  ■ puts +$21.2M  ■ all +$489M"
    assert hedge_legend(arrays, -21.7e6, 763.79, 32).plain == "■C +$468M ■P +$21.2M ■all +$489M"
