"""Pilot tests: every binding and mode of the TUI on the deterministic fake service.

No sleeps: each interaction is followed by ``settle`` (workers complete, messages handled).
"""

from __future__ import annotations

from zdte_tui.ui.alerts import AlertRules
from zdte_tui.ui.app import Refreshed, ZdteApp
from zdte_tui.ui.screens.help import HelpScreen
from zdte_tui.ui.screens.seek import SeekScreen
from zdte_tui.ui.screens.symbol import SymbolScreen
from zdte_tui.ui.screens.watch import WatchScreen
from zdte_tui.ui.state import RefreshPlan, RefreshResult
from zdte_tui.ui.widgets.card import SymbolCard
from zdte_tui.ui.widgets.header import StatusHeader
from zdte_tui.ui.widgets.heatmap import HeatmapPane
from zdte_tui.ui.widgets.leaderboard import LeaderboardPane
from zdte_tui.ui.widgets.signals import SignalsTape

from .fake_service import FakeFlowService
from .helpers import settle

SMALL = (120, 35)
LARGE = (200, 60)


def header_text(app: ZdteApp) -> str:
    header = app.screen.query_one(StatusHeader)
    return "\n".join(line.plain for line in header._lines)


def last_call(service: FakeFlowService, name: str) -> tuple:
    return [args for call, args in service.calls if call == name][-1]


async def test_footer_keys_mount_with_the_footers_compact_value(make_app):
    """The footer's keys bound to its ``compact`` (False) never carry ``-compact``, so none is restyled
    twice on mount; the command-palette key, when shown, is left as Textual makes it."""
    from textual.widgets._footer import FooterKey

    from zdte_tui.ui.widgets.footer import Footer

    app = make_app(symbols=["SPY"], service=FakeFlowService())
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        footer = app.screen.query_one(Footer)
        keys = [k for k in footer.query(FooterKey) if not k.has_class("-command-palette")]
        assert keys and footer.compact is False
        assert all(k.compact is False and not k.has_class("-compact") for k in keys)
        assert "Quit" in {k.description for k in keys}


async def test_monitor_first_refresh_fills_every_pane(make_app):
    service = FakeFlowService()
    app = make_app(symbols=["SPY", "QQQ"], service=service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SymbolScreen) and app.screen.symbol == "SPY"
        called = {name for name, _ in service.calls}
        assert {"status", "snapshot", "series", "hedge_flow", "heatmap", "signals", "leaderboard"} <= called
        assert "SIMULATED" in header_text(app) and "14:45:00 ET" in header_text(app)
        assert app.screen.query_one(HeatmapPane).renderable is not None
        assert len(app.screen.query_one(SignalsTape).rows) > 0
        assert app._timer is not None  # the next poll is armed only after the refresh finished


async def test_m_cycles_the_heatmap_metric_and_refetches(make_app):
    service = FakeFlowService()
    async with make_app(service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert last_call(service, "heatmap")[1] == "dex"
        assert "DEX" in pilot.app.screen.query_one(HeatmapPane).border_title


async def test_d_toggles_raw_and_delta(make_app):
    service = FakeFlowService()
    async with make_app(service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert last_call(service, "heatmap")[2] == "delta"
        await pilot.press("d")
        await settle(pilot)
        assert last_call(service, "heatmap")[2] == "raw"


async def test_o_and_i_zoom_strikes_out_and_in(make_app):
    async with make_app().run_test(size=SMALL) as pilot:
        await settle(pilot)
        pane = pilot.app.screen.query_one(HeatmapPane)
        assert {len(g) for g in pane.renderable.view.row_groups} == {1}
        await pilot.press("o")
        await pilot.pause()
        assert pilot.app.settings.strikes_per_row == 2
        assert max(len(g) for g in pane.renderable.view.row_groups) == 2
        await pilot.press("i")
        await pilot.pause()
        assert pilot.app.settings.strikes_per_row == 1


async def test_left_right_end_scroll_heatmap_time(make_app):
    async with make_app().run_test(size=SMALL) as pilot:
        await settle(pilot)
        pane = pilot.app.screen.query_one(HeatmapPane)
        newest_end = pane.renderable.view.bar_end
        await pilot.press("left", "left")
        await pilot.pause()
        assert pane.renderable.view.bar_end == newest_end - 30
        await pilot.press("right")
        await pilot.pause()
        assert pane.renderable.view.bar_end == newest_end - 15
        await pilot.press("end")
        await pilot.pause()
        assert pane.renderable.view.bar_end == newest_end


async def test_f_cycles_the_minimum_signal_score(make_app):
    async with make_app().run_test(size=SMALL) as pilot:
        await settle(pilot)
        tape = pilot.app.screen.query_one(SignalsTape)
        all_rows = len(tape.rows)
        for threshold in (50, 70, 85, 0):
            await pilot.press("f")
            await pilot.pause()
            assert pilot.app.settings.min_score == threshold
            assert all(row["score"] >= threshold for row in tape.rows)
        assert len(tape.rows) == all_rows


async def test_l_cycles_the_leaderboard_metric(make_app):
    service = FakeFlowService()
    async with make_app(service=service).run_test(size=LARGE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert last_call(service, "leaderboard")[0] == "pin_risk"
        assert "pin risk" in pilot.app.screen.query_one(LeaderboardPane).border_title


async def test_r_refreshes_now(make_app):
    service = FakeFlowService()
    async with make_app(service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        before = pilot.app.refresh_count
        await pilot.press("r")
        await settle(pilot)
        assert pilot.app.refresh_count == before + 1


async def test_question_mark_opens_help_and_escape_closes_it(make_app):
    async with make_app().run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, SymbolScreen)


async def test_s_switches_to_the_next_symbol(make_app):
    service = FakeFlowService()
    async with make_app(symbols=["SPY", "QQQ"], service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(pilot.app.screen, SymbolScreen) and pilot.app.screen.symbol == "QQQ"
        assert last_call(service, "heatmap")[0] == "QQQ"
        assert "QQQ" in header_text(pilot.app)


async def test_watch_grid_enter_opens_a_symbol_and_escape_returns(make_app):
    service = FakeFlowService()
    app = make_app(symbols=["SPY", "QQQ", "IWM", "SPX"], mode="watch", service=service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WatchScreen)
        cards = list(app.screen.query(SymbolCard))
        assert [c.symbol for c in cards] == ["SPY", "QQQ", "IWM", "SPX"]
        assert all(c.data is not None and c.data.heatmap for c in cards)
        await pilot.press("down")
        assert app.focused.symbol == "QQQ"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SymbolScreen) and app.screen.symbol == "QQQ"
        assert last_call(service, "series")[0] == "QQQ"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, WatchScreen)
        assert last_call(service, "snapshot")[0] == "SPX"  # the grid refreshed every card again


async def test_replay_space_dot_plus_minus_and_brackets_drive_the_clock(make_app):
    service = FakeFlowService(source="replay")
    async with make_app(mode="replay", service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        start = service.minute
        await pilot.press("space")
        await settle(pilot)
        assert service.paused and "PAUSED" in header_text(pilot.app)
        await pilot.press("full_stop")
        await settle(pilot)
        assert service.minute == start + 1
        await pilot.press("plus")
        await settle(pilot)
        assert service.speed == 2.0 and "x2" in header_text(pilot.app)
        await pilot.press("minus", "minus")
        await settle(pilot)
        assert service.speed == 0.5
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert service.minute == start + 1 - 5
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert service.minute == start + 1
        assert "14:46:00 ET" in header_text(pilot.app)


async def test_replay_g_seeks_to_a_typed_time(make_app):
    service = FakeFlowService(source="replay")
    async with make_app(mode="replay", service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(pilot.app.screen, SeekScreen)
        await pilot.press("1", "3", ":", "0", "5", "enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, SymbolScreen)
        assert last_call(service, "control") == ("seek", "13:05")
        assert "13:05:00 ET" in header_text(pilot.app)


async def test_playback_keys_do_nothing_outside_replay(make_app):
    service = FakeFlowService()
    async with make_app(service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("space", "full_stop", "plus", "left_square_bracket")
        await settle(pilot)
        assert not [c for c, _ in service.calls if c == "control"]


async def test_control_error_on_a_live_source_is_shown_in_the_header(make_app):
    service = FakeFlowService(controllable=False)
    async with make_app(mode="replay", service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("space")
        await settle(pilot)
        assert "not_controllable" in header_text(pilot.app)


async def test_symbol_without_0dte_shows_the_next_expiry_not_empty_panes(make_app):
    async with make_app(symbols=["AAPL"]).run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert screen.has_class("-degraded")
        message = str(screen.query_one("#no-session").render())
        assert "2026-06-12" in message and "no 0DTE session" in message
        assert not screen.query_one("#body").display


async def test_closed_session_shows_last_session_and_next_expiry(make_app):
    service = FakeFlowService(session_closed=True)
    async with make_app(service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        message = str(pilot.app.screen.query_one("#no-session").render())
        assert "closed" in message and "2026-06-08" in message
        assert not [c for c, _ in service.calls if c == "heatmap"]  # no time series for a degraded snapshot


async def test_service_errors_show_in_the_header_and_other_panes_still_render(make_app):
    service = FakeFlowService(fail_methods=("heatmap",))
    async with make_app(service=service).run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert "upstream_unavailable" in header_text(pilot.app)
        assert pilot.app.screen.query_one(HeatmapPane).renderable is None
        assert len(pilot.app.screen.query_one(SignalsTape).rows) > 0


async def test_alert_severity_notifies_and_rings_the_bell(make_app):
    service = FakeFlowService(source="replay", at="15:20")
    app = make_app(mode="replay", service=service, notify_on_alert=True, bell_on_alert=True,
                   alert_rules=AlertRules(rules=frozenset({"severity"}), desktop=False))
    notes, bells = [], []
    app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert service.snapshot("SPY")["headline"]["severity"] != "alert" and not notes
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        await settle(pilot)
        assert service.snapshot("SPY")["headline"]["severity"] == "alert"
        assert len(notes) == 1 and bells == [1]


async def test_layout_hides_the_leaderboard_when_short_and_widens_when_large(make_app):
    async with make_app().run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert pilot.app.screen.has_class("-short") and pilot.app.screen.has_class("-narrow")
        assert not pilot.app.screen.query_one(LeaderboardPane).display
    async with make_app().run_test(size=LARGE) as pilot:
        await settle(pilot)
        assert pilot.app.screen.has_class("-xwide") and pilot.app.screen.has_class("-tall")
        assert pilot.app.screen.query_one(LeaderboardPane).display
        assert pilot.app.screen.query_one("#right").size.width == 84


async def test_command_palette_offers_metric_symbol_and_theme_commands(make_app):
    async with make_app(symbols=["SPY", "QQQ"]).run_test(size=SMALL) as pilot:
        await settle(pilot)
        commands = {c.title: c for c in pilot.app.get_system_commands(pilot.app.screen)}
        expected = {"Theme", "Heatmap metric: oi", "Symbol: QQQ", "Leaderboard: abs_flow", "Signals: min score 70"}
        assert expected <= set(commands)
        commands["Heatmap metric: oi"].callback()
        await settle(pilot)
        assert pilot.app.settings.metric == "oi"


async def test_refresh_messages_coalesce():
    plan = RefreshPlan("symbol", "SPY", ("SPY",))
    older, newer = (Refreshed(RefreshResult(plan, None, {}, None)) for _ in range(2))
    assert older.can_replace(newer)


async def test_theme_and_256_color_options(make_app):
    app = make_app(theme="nord", truecolor="never")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert app.theme == "nord" and not app.palette.truecolor
