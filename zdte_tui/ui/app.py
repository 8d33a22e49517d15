"""The zdte Textual app: ``zdte SPY`` (monitor), ``zdte watch ...`` and ``zdte replay ...``.

Data flow ("attributes down, messages up"): a thread worker calls the
:class:`~zdte_tui.service.protocol.FlowServiceAPI` (``state.fetch_refresh``), posts one coalescing
:class:`Refreshed` message, and the app pushes the frozen result into the active screen. The
next poll is armed with ``set_timer`` only after a refresh finishes, so polls never overlap.
Playback keys (replay mode) go through ``service.control`` in their own worker.

The UI imports only ``zdte_tui.service.protocol`` and ``zdte_tui.ui``: never the engine, sources or
store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from zdte_tui.service.protocol import HEATMAP_METRICS, LEADERBOARD_METRICS, FlowServiceAPI
from zdte_tui.ui import alerts, export
from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.clock import DisplayClock
from zdte_tui.ui.renderables.palette import detect_truecolor, get_palette
from zdte_tui.ui.screens.symbol import SymbolScreen
from zdte_tui.ui.screens.watch import WatchScreen
from zdte_tui.ui.state import (
    MIN_SCORE_STEPS,
    SCROLL_STEP_BARS,
    RefreshPlan,
    RefreshResult,
    SymbolData,
    ViewSettings,
    describe_error,
    fetch_refresh,
    refresh_interval_seconds,
)
from zdte_tui.ui.widgets.card import SymbolCard
from zdte_tui.ui.widgets.heatmap import HeatmapPane

Mode = Literal["monitor", "watch", "replay"]
SPEED_STEPS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
SEEK_STEP_SECONDS = 300
STEP_SECONDS = 60
PLAYBACK_ACTIONS = {"playback", "speed", "seek", "seek_prompt"}


class Refreshed(Message):
    """A finished refresh. A newer one supersedes an unprocessed older one."""

    def __init__(self, result: RefreshResult) -> None:
        super().__init__()
        self.result = result

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Refreshed)


class ControlDone(Message):
    """A playback control call returned (``status``) or failed (``error``)."""

    def __init__(self, status: dict[str, Any] | None, error: str | None) -> None:
        super().__init__()
        self.status = status
        self.error = error


class ZdteApp(App[int]):
    """Terminal monitor for 0DTE flow on top of any FlowServiceAPI."""

    CSS_PATH = "app.tcss"
    TITLE = "zdte"
    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (100, "-narrow"), (160, "-wide"), (190, "-xwide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (45, "-tall")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("r", "refresh_now", "Refresh"),
        Binding("question_mark", "help", "Help"),
        Binding("space", "playback('toggle')", "Play/Pause"),
        Binding("full_stop", "playback('step')", "Step"),
        Binding("plus,equals_sign", "speed(1)", "Faster"),
        Binding("minus", "speed(-1)", "Slower"),
        Binding("left_square_bracket", f"seek({-SEEK_STEP_SECONDS})", "-5m"),
        Binding("right_square_bracket", f"seek({SEEK_STEP_SECONDS})", "+5m"),
        Binding("g", "seek_prompt", "Seek"),
        Binding("a", "alert_log", "Alerts"),
    ]

    def __init__(self, service: FlowServiceAPI, *, symbols: list[str], mode: Mode = "monitor",
                 refresh_seconds: float = 30.0, theme: str | None = None, truecolor: str = "auto",
                 monotonic: Callable[[], float] = time.monotonic, alert_rules: alerts.AlertRules | None = None) -> None:
        super().__init__()
        if not symbols:
            raise ValueError("at least one symbol is required")
        self.service = service
        self.symbols = [s.strip().upper() for s in symbols]
        self.mode: Mode = mode
        self.refresh_seconds = float(refresh_seconds)
        self.truecolor = detect_truecolor(truecolor)
        self.palette = get_palette(truecolor=self.truecolor)
        self.focus_symbol = self.symbols[0]
        self.settings = ViewSettings()
        self.status: dict[str, Any] | None = None
        self.board: dict[str, Any] | None = None
        self.errors: tuple[str, ...] = ()
        self.data: dict[str, SymbolData] = {}
        self.refresh_count = 0
        self._timer: Timer | None = None
        self._requested_theme = theme
        self.view_kind: Literal["symbol", "watch"] = "watch" if mode == "watch" else "symbol"
        self.monotonic = monotonic
        self.display_clock = DisplayClock()
        self.stale_since: str | None = None  # ET time of the data kept on screen while the service fails
        self._seek_target: datetime | None = None  # a seek sent but not yet answered
        self._controls_in_flight = 0
        self.known_symbols: list[str] = list(self.symbols)  # + every symbol the service tracks
        self.alert_rules = alert_rules or alerts.AlertRules()  # on by default: a toast and the bell
        self.alert_log: list[alerts.Alert] = []
        self.alert_log_path: Path | None = (Path(self.alert_rules.log_file).expanduser() if self.alert_rules.log_file
                                            else alerts.default_log_path()) if self.alert_rules.enabled else None
        self._last_snapshot: dict[str, Any] = {}
        self._seen_signal_ts: dict[str, str] = {}

    # ------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        if self._requested_theme and self._requested_theme in self.available_themes:
            self.theme = self._requested_theme
        if self.mode == "watch":
            self.push_screen(WatchScreen(self.symbols))
        else:
            self.push_screen(self._symbol_screen(self.focus_symbol))
        self.set_interval(1.0, self.tick)
        self.theme_changed_signal.subscribe(self, lambda _theme: self._push_to_screen())
        self.refresh_now()

    def tick(self) -> None:
        """Every second: advance the header clock and data age locally (no service call)."""
        screen = self.screen
        if isinstance(screen, SymbolScreen):
            screen.tick(self.monotonic())

    def _symbol_screen(self, symbol: str) -> SymbolScreen:
        return SymbolScreen(symbol)

    # ------------------------------------------------------------ refresh loop
    def _plan(self) -> RefreshPlan:
        return RefreshPlan(view=self.view_kind, focus=self.focus_symbol,
                           symbols=tuple(self.symbols), settings=self.settings,
                           leaderboard_n=max(10, len(self.known_symbols)))

    def refresh_now(self) -> None:
        """Fetch now (cancels an in-flight refresh; the finished one re-arms the timer)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._refresh_worker(self._plan())

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _refresh_worker(self, plan: RefreshPlan) -> None:
        result = fetch_refresh(self.service, plan)
        if not get_current_worker().is_cancelled:
            self.post_message(Refreshed(result))

    WARMING_RETRY_SECONDS = 1.0
    CATCH_UP_RETRY_SECONDS = 0.25

    def _warming_up(self) -> bool:
        """A symbol whose source has not delivered its chain yet, or a leaderboard still missing
        tracked symbols: poll again soon, not in 30 s."""
        if any("warming_up" in e for e in self.errors):
            return True
        entries = (self.board or {}).get("entries")
        tracked = (self.status or {}).get("symbols") or ()
        return entries is not None and 0 < len(entries) < min(len(tracked), self._plan().leaderboard_n) \
            and self.refresh_count < 30

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        delay = refresh_interval_seconds(self.refresh_seconds, self.status)
        if self._warming_up():
            delay = min(delay, self.WARMING_RETRY_SECONDS)
        if self.display_clock.catching_up:
            delay = min(delay, self.CATCH_UP_RETRY_SECONDS)
        self._timer = self.set_timer(delay, self.refresh_now)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "refresh" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            if event.state == WorkerState.ERROR and worker.error is not None:
                self.errors = (f"refresh: {describe_error(worker.error)}",)
                self._push_to_screen()
            self._arm_timer()
        elif worker.group == "control" and event.state == WorkerState.ERROR and worker.error is not None:
            self.errors = (f"control: {describe_error(worker.error)}",)
            self._push_to_screen()

    def _set_status(self, status: Any) -> None:
        self.status = dict(status)
        for symbol in self.status.get("symbols") or ():
            symbol = str(symbol).upper()
            if symbol not in self.known_symbols:
                self.known_symbols.append(symbol)  # `s` and the palette offer every tracked symbol
        snapshot = (self.data.get(self.focus_symbol) or SymbolData(self.focus_symbol)).snapshot
        self.display_clock = DisplayClock.from_status(self.status, self.monotonic(), snapshot)

    def on_refreshed(self, message: Refreshed) -> None:
        result = message.result
        self.refresh_count += 1
        if result.status is not None:
            self._set_status(result.status)
        if result.leaderboard is not None:
            self.board = dict(result.leaderboard)
        self.errors = result.errors
        stale = False
        for symbol, data in result.symbols.items():
            old = self.data.get(symbol)
            if data.snapshot is None and data.errors and old is not None and old.snapshot is not None:
                stale = True  # keep the last good data on screen; the header says it is stale
                continue
            self.data[symbol] = data
            self._check_alert(symbol, data)
        if stale or (result.status is None and self.status is not None and result.errors):
            if self.stale_since is None:
                self.stale_since = fmt.et_clock((self.status or {}).get("session_time"), seconds=True)
        else:
            self.stale_since = None
        focus = self.data.get(self.focus_symbol)
        if focus is not None:
            self.display_clock = self.display_clock.with_close(focus.snapshot)
        self._push_to_screen()
        if focus is not None and focus.snapshot is not None:
            self.call_after_refresh(self._first_screen_drawn)
        if self._warming_up() or self.display_clock.catching_up:
            self._arm_timer()

    def _first_screen_drawn(self) -> None:
        """Let a service holding its source after the first symbol (``hold_after_first_symbol``)
        go on to the other symbols, now that the screen shows data."""
        release = getattr(self.service, "release_hold", None)
        if release is not None:
            release()

    def _check_alert(self, symbol: str, data: SymbolData) -> None:
        """Compare with the symbol's previous snapshot and deliver what fired (see ui/alerts.py)."""
        snapshot = data.snapshot
        if not snapshot or data.degraded:
            return
        signals = list((data.signals or {}).get("signals") or [])
        previous = self._last_snapshot.get(symbol)
        fired = alerts.detect_alerts(symbol, previous, snapshot, self.alert_rules, signals,
                                     self._seen_signal_ts.get(symbol))
        self._last_snapshot[symbol] = snapshot
        if data.signals is not None:
            newest = alerts.newest_signal_ts(signals)
            self._seen_signal_ts[symbol] = max(newest, self._seen_signal_ts.get(symbol) or "")
        for alert in fired:
            self._deliver(alert)

    def _deliver(self, alert: alerts.Alert) -> None:
        rules = self.alert_rules
        self.alert_log.append(alert)
        self.notify(alert.message, title=f"{alert.symbol} {alert.rule}", severity="warning", timeout=10)
        if rules.bell:
            self.bell()
        if rules.desktop or rules.webhook_url or self.alert_log_path is not None:
            self._deliver_outside(alert)

    @work(thread=True, group="alerts", exit_on_error=False)
    def _deliver_outside(self, alert: alerts.Alert) -> None:
        """Desktop notification, webhook and log file: I/O, so in a worker; failures become a toast."""
        import subprocess

        problems = []
        if self.alert_log_path is not None:
            try:
                alerts.append_log(self.alert_log_path, alert)
            except OSError as exc:
                problems.append(f"alert log {self.alert_log_path}: {exc}")
        if self.alert_rules.desktop:
            argv = alerts.desktop_command(alert)
            if argv is not None:
                try:
                    subprocess.run(argv, check=False, timeout=5, capture_output=True)
                except (OSError, subprocess.SubprocessError) as exc:
                    problems.append(f"desktop notification: {exc}")
        if self.alert_rules.webhook_url:
            try:
                alerts.post_webhook(self.alert_rules.webhook_url, alert, retries=self.alert_rules.webhook_retries)
            except RuntimeError as exc:
                problems.append(str(exc))
        for problem in problems:
            self.call_from_thread(self.notify, problem, title="alert delivery", severity="error")

    def action_alert_log(self) -> None:
        from zdte_tui.ui.screens.alert_log import AlertLogScreen  # screens not on the first frame load on first use

        if not isinstance(self.screen, AlertLogScreen):
            self.push_screen(AlertLogScreen(list(self.alert_log), self.alert_log_path))

    def _push_to_screen(self) -> None:
        screen = self.screen
        # the heatmap's neutral and missing colors follow the theme (light grey on a light theme)
        self.palette = get_palette(truecolor=self.truecolor, dark=self.current_theme.dark)
        if isinstance(screen, SymbolScreen):
            for pane in screen.query(HeatmapPane):
                pane.palette = self.palette
            screen.show(self.data.get(screen.symbol), self.settings, status=self.status, board=self.board,
                        errors=self.errors, mode=self.mode, clock=self.display_clock, mono=self.monotonic(),
                        stale_since=self.stale_since)
        elif isinstance(screen, WatchScreen):
            screen.show(self.data, status=self.status, errors=self.errors, mode=self.mode)

    # ------------------------------------------------------------ navigation
    def on_symbol_card_opened(self, message: SymbolCard.Opened) -> None:
        self.open_symbol(message.symbol)

    def open_symbol(self, symbol: str) -> None:
        """Show ``symbol``'s full screen (pushed over the watch grid, or replacing the monitor)."""
        self.focus_symbol = symbol
        self.view_kind = "symbol"
        screen = self._symbol_screen(symbol)
        if isinstance(self.screen, SymbolScreen):
            screen.add_class(*(view for view in SymbolScreen.VIEW_CLASSES if self.screen.has_class(view)))
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        self.call_after_refresh(self._push_to_screen)
        self.refresh_now()

    def back_to_watch(self) -> None:
        """Leave a symbol screen opened from the watch grid."""
        if self.mode != "watch":
            return
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.view_kind = "watch"
        self.call_after_refresh(self._push_to_screen)
        self.refresh_now()

    # ------------------------------------------------------------ actions
    def action_refresh_now(self) -> None:
        self.refresh_now()

    def action_help(self) -> None:
        from zdte_tui.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def _update_settings(self, settings: ViewSettings, *, refetch: bool) -> None:
        self.settings = settings
        self._push_to_screen()
        if refetch:
            self.refresh_now()

    def action_cycle_metric(self) -> None:
        self._update_settings(replace(self.settings.next_metric(), scroll_bars=self.settings.scroll_bars), refetch=True)

    def set_metric(self, metric: str) -> None:
        self._update_settings(replace(self.settings, metric=metric), refetch=True)

    def action_toggle_heatmap_mode(self) -> None:
        self._update_settings(self.settings.toggle_mode(), refetch=True)

    def action_zoom(self, direction: int) -> None:
        self._update_settings(self.settings.zoom(direction), refetch=False)

    def action_scroll_time(self, direction: int) -> None:
        if direction == 0:
            self._update_settings(replace(self.settings, scroll_bars=0), refetch=False)
            return
        settings = self.settings.scroll(direction * SCROLL_STEP_BARS)
        limits = [p.max_scroll_bars for p in self.screen.query(HeatmapPane) if p.max_scroll_bars is not None]
        if limits:  # never scroll past the first bar into a blank pane
            settings = replace(settings, scroll_bars=min(settings.scroll_bars, max(limits)))
        self._update_settings(settings, refetch=False)

    def action_cycle_min_score(self) -> None:
        self._update_settings(self.settings.next_min_score(), refetch=False)

    def action_cycle_tape(self, which: str) -> None:
        """`k` sweep/block, `v` calls/puts, `$` minimum premium: filters of the signals tape."""
        step = {"kind": ViewSettings.next_tape_kind, "side": ViewSettings.next_tape_side,
                "premium": ViewSettings.next_tape_premium}[which]
        self._update_settings(step(self.settings), refetch=False)

    def set_tape_contract(self, contract: str) -> None:
        self._update_settings(replace(self.settings, tape_contract=contract), refetch=False)

    def set_min_score(self, score: int) -> None:
        self._update_settings(replace(self.settings, min_score=score), refetch=False)

    def action_cycle_leaderboard(self) -> None:
        self._update_settings(self.settings.next_leaderboard_metric(), refetch=True)

    def set_leaderboard_metric(self, metric: str) -> None:
        self._update_settings(replace(self.settings, leaderboard_metric=metric), refetch=True)

    def action_next_symbol(self) -> None:
        symbols = self.known_symbols
        if len(symbols) > 1:
            i = symbols.index(self.focus_symbol) if self.focus_symbol in symbols else -1
            self.open_symbol(symbols[(i + 1) % len(symbols)])
        else:
            self.notify("no other symbol is tracked: start with `zdte watch SPY QQQ ...` or --watch",
                        title="symbol", timeout=4)

    # ------------------------------------------------------------ playback (replay mode)
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in PLAYBACK_ACTIONS:
            return self.mode == "replay"
        return True

    def action_playback(self, action: str) -> None:
        self._control(action, STEP_SECONDS if action == "step" else None)

    def action_speed(self, direction: int) -> None:
        clock = (self.status or {}).get("clock") or {}
        current = clock.get("speed")
        current = SPEED_STEPS[-1] if current == 0 else float(current or 1.0)
        if direction > 0:
            faster = [s for s in SPEED_STEPS if s > current]
            target = faster[0] if faster else SPEED_STEPS[-1]
        else:
            slower = [s for s in SPEED_STEPS if s < current]
            target = slower[-1] if slower else SPEED_STEPS[0]
        self._control("speed", target)

    def action_seek(self, seconds: int) -> None:
        """Relative seek from the playback clock's current time (or from a seek still in flight,
        so pressing ``[`` twice goes back 10 minutes, not 5 twice from a stale time)."""
        now = self._seek_target or self.display_clock.now(self.monotonic())
        if now is None:
            self.errors = ("seek: session time unknown",)
            self._push_to_screen()
            return
        target = now + timedelta(seconds=int(seconds))
        self._seek_target = target
        self._control("seek", target.strftime("%Y-%m-%dT%H:%M:%SZ"))

    def action_seek_prompt(self) -> None:
        from zdte_tui.ui.screens.seek import SeekScreen

        def chosen(value: str | None) -> None:
            if value:
                self._seek_target = None
                self._control("seek", value)

        self.push_screen(SeekScreen(), chosen)

    def _control(self, action: str, value: float | str | None = None) -> None:
        self._controls_in_flight += 1
        self._control_worker(action, value)

    @work(thread=True, group="control", exit_on_error=False)
    def _control_worker(self, action: str, value: float | str | None = None) -> None:
        try:
            status = self.service.control(action, value)
        except Exception as exc:  # noqa: BLE001 - shown in the header
            self.post_message(ControlDone(None, f"{action}: {describe_error(exc)}"))
            return
        self.post_message(ControlDone(status, None))

    def on_control_done(self, message: ControlDone) -> None:
        self._controls_in_flight = max(0, self._controls_in_flight - 1)
        if self._controls_in_flight == 0:
            self._seek_target = None
        if message.status is not None:
            self._set_status(message.status)
            self.errors = ()
        if message.error is not None:
            self.errors = (message.error,)
        self._push_to_screen()
        if message.status is not None:
            self.refresh_now()

    # ------------------------------------------------------------ files: screenshot and `e` export
    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Save an SVG of the screen to :func:`export.output_dir` (not only ~/Downloads) and say where."""
        directory = Path(path) if path else export.output_dir()
        name = filename or export.stamp_name(self.focus_symbol, "screen", "svg")
        try:
            saved = self.save_screenshot(name, str(directory))
        except OSError as exc:
            self.notify(f"could not save the screenshot in {directory}: {exc}", title="screenshot", severity="error")
            return None
        self.notify(f"saved {saved}", title="screenshot", timeout=8)
        return saved

    def export_tables(self) -> tuple[str, export.Table]:
        """(name, table) of the focused pane's data; the heatmap when no pane has the focus."""
        from zdte_tui.ui.widgets.hedge_flow import HedgeFlowPane
        from zdte_tui.ui.widgets.leaderboard import LeaderboardPane
        from zdte_tui.ui.widgets.signals import SignalsTape
        from zdte_tui.ui.widgets.tide import TidePane

        data = self.data.get(self.focus_symbol) or SymbolData(self.focus_symbol)
        focused = self.focused
        if isinstance(focused, SignalsTape):
            return "signals", export.signals_table(list(focused.rows))
        if isinstance(focused, (HedgeFlowPane, TidePane)):  # the series carries the tide columns
            return "series", export.series_table(data.series)
        if isinstance(focused, LeaderboardPane):
            return "leaderboard", export.leaderboard_table_rows(self.board)
        if isinstance(focused, HeatmapPane) or focused is None:
            return "heatmap", export.heatmap_table(data.heatmap)
        return "levels", export.levels_table(data.snapshot)

    def action_export(self) -> None:
        """`e`: the focused pane's data as CSV and the screen as SVG, side by side in one directory."""
        name, table = self.export_tables()
        directory = export.output_dir()
        csv_path = directory / export.stamp_name(self.focus_symbol, name, "csv")
        try:
            csv_path.write_text(export.to_csv(table), encoding="utf-8")
            svg = self.save_screenshot(csv_path.with_suffix(".svg").name, str(directory))
        except OSError as exc:
            self.notify(f"export to {directory} failed: {exc}", title="export", severity="error")
            return
        self.notify(f"{name}: {len(table[1])} rows -> {csv_path}\nscreen -> {svg}", title="export", timeout=10)

    # ------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Refresh now", "Fetch fresh data from the service", self.refresh_now)
        for metric in HEATMAP_METRICS:
            yield SystemCommand(f"Heatmap metric: {metric}", f"Show {metric} in the heatmap",
                                lambda m=metric: self.set_metric(m), discover=False)
        yield SystemCommand("Heatmap mode: raw / delta", "Toggle level vs bar-over-bar change",
                            self.action_toggle_heatmap_mode, discover=False)
        for symbol in self.known_symbols:
            yield SystemCommand(f"Symbol: {symbol}", f"Open the monitor on {symbol}",
                                lambda s=symbol: self.open_symbol(s), discover=False)
        if self.mode == "watch":
            yield SystemCommand("Watch grid", "Back to the watch grid", self.back_to_watch, discover=False)
        for metric in LEADERBOARD_METRICS:
            yield SystemCommand(f"Leaderboard: {metric}", f"Rank symbols by {metric}",
                                lambda m=metric: self.set_leaderboard_metric(m), discover=False)
        for score in MIN_SCORE_STEPS:
            yield SystemCommand(f"Signals: min score {score}", f"Hide signals scoring below {score}",
                                lambda s=score: self.set_min_score(s), discover=False)
        yield SystemCommand("Tape: all contracts", "Show every contract in the signals tape",
                            lambda: self.set_tape_contract(""), discover=False)
        data = self.data.get(self.focus_symbol)
        contracts = sorted({f"{fmt.strike(s.get('strike'))}{s.get('right') or ''}"
                            for s in ((data.signals or {}).get("signals") or [] if data else [])})
        for contract in contracts:
            yield SystemCommand(f"Tape: only {contract}", f"Show only {contract} in the signals tape",
                                lambda c=contract: self.set_tape_contract(c), discover=False)
        yield SystemCommand("Help", "Show key bindings", self.action_help)

def run_tui(service: FlowServiceAPI, *, symbols: list[str], mode: Mode = "monitor", **options: Any) -> int:
    """Run the TUI until the user quits; returns the process exit code (0)."""
    app = ZdteApp(service, symbols=symbols, mode=mode, **options)
    app.run()
    return int(app.return_code or 0)
