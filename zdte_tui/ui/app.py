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

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from zdte_tui.service.protocol import HEATMAP_METRICS, LEADERBOARD_METRICS, FlowServiceAPI
from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.renderables.palette import detect_truecolor, get_palette
from zdte_tui.ui.screens.help import HelpScreen
from zdte_tui.ui.screens.seek import SeekScreen
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
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (160, "-wide")]
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
    ]

    def __init__(self, service: FlowServiceAPI, *, symbols: list[str], mode: Mode = "monitor",
                 refresh_seconds: float = 30.0, theme: str | None = None, bell_on_alert: bool = False,
                 notify_on_alert: bool = False, truecolor: str = "auto") -> None:
        super().__init__()
        if not symbols:
            raise ValueError("at least one symbol is required")
        self.service = service
        self.symbols = [s.strip().upper() for s in symbols]
        self.mode: Mode = mode
        self.refresh_seconds = float(refresh_seconds)
        self.bell_on_alert = bell_on_alert
        self.notify_on_alert = notify_on_alert
        self.palette = get_palette(truecolor=detect_truecolor(truecolor))
        self.focus_symbol = self.symbols[0]
        self.settings = ViewSettings()
        self.status: dict[str, Any] | None = None
        self.board: dict[str, Any] | None = None
        self.errors: tuple[str, ...] = ()
        self.data: dict[str, SymbolData] = {}
        self.refresh_count = 0
        self._timer: Timer | None = None
        self._last_alert_state: dict[str, tuple[str | None, str | None]] = {}
        self._requested_theme = theme
        self.view_kind: Literal["symbol", "watch"] = "watch" if mode == "watch" else "symbol"

    # ------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        if self._requested_theme and self._requested_theme in self.available_themes:
            self.theme = self._requested_theme
        if self.mode == "watch":
            self.push_screen(WatchScreen(self.symbols))
        else:
            self.push_screen(self._symbol_screen(self.focus_symbol))
        self.refresh_now()

    def _symbol_screen(self, symbol: str) -> SymbolScreen:
        return SymbolScreen(symbol)

    # ------------------------------------------------------------ refresh loop
    def _plan(self) -> RefreshPlan:
        return RefreshPlan(view=self.view_kind, focus=self.focus_symbol,
                           symbols=tuple(self.symbols), settings=self.settings,
                           leaderboard_n=max(10, len(self.symbols)))

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

    def _warming_up(self) -> bool:
        """A symbol whose source has not delivered its chain yet: poll again soon, not in 30 s."""
        return any("warming_up" in e for e in self.errors)

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        delay = refresh_interval_seconds(self.refresh_seconds, self.status)
        if self._warming_up():
            delay = min(delay, self.WARMING_RETRY_SECONDS)
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

    def on_refreshed(self, message: Refreshed) -> None:
        result = message.result
        self.refresh_count += 1
        if result.status is not None:
            self.status = dict(result.status)
        if result.leaderboard is not None:
            self.board = dict(result.leaderboard)
        self.errors = result.errors
        for symbol, data in result.symbols.items():
            self.data[symbol] = data
            self._check_alert(symbol, data)
        self._push_to_screen()
        if self._warming_up():
            self._arm_timer()

    def _check_alert(self, symbol: str, data: SymbolData) -> None:
        snapshot = data.snapshot or {}
        severity = fmt.dig(snapshot, "headline", "severity")
        regime = fmt.dig(snapshot, "regime", "label")
        previous = self._last_alert_state.get(symbol)
        self._last_alert_state[symbol] = (severity, regime)
        if previous is None or not (self.bell_on_alert or self.notify_on_alert):
            return
        reasons = []
        if severity == "alert" and previous[0] != "alert":
            reasons.append(fmt.dig(snapshot, "headline", "narrative", default="severity is now ALERT"))
        if regime and previous[1] and regime != previous[1]:
            reasons.append(f"regime flipped to {fmt.regime_name(regime)}")
        if not reasons:
            return
        if self.notify_on_alert:
            self.notify("; ".join(reasons), title=f"{symbol} alert", severity="warning", timeout=10)
        if self.bell_on_alert:
            self.bell()

    def _push_to_screen(self) -> None:
        screen = self.screen
        if isinstance(screen, SymbolScreen):
            for pane in screen.query(HeatmapPane):
                pane.palette = self.palette
            screen.show(self.data.get(screen.symbol), self.settings, status=self.status, board=self.board,
                        errors=self.errors, mode=self.mode)
        elif isinstance(screen, WatchScreen):
            screen.show(self.data, status=self.status, errors=self.errors, mode=self.mode)

    # ------------------------------------------------------------ navigation
    def on_symbol_card_opened(self, message: SymbolCard.Opened) -> None:
        self.open_symbol(message.symbol)

    def open_symbol(self, symbol: str) -> None:
        """Show ``symbol``'s full screen (pushed over the watch grid, or replacing the monitor)."""
        self.focus_symbol = symbol
        self.view_kind = "symbol"
        if isinstance(self.screen, SymbolScreen):
            self.switch_screen(self._symbol_screen(symbol))
        else:
            self.push_screen(self._symbol_screen(symbol))
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
        else:
            self._update_settings(self.settings.scroll(direction * SCROLL_STEP_BARS), refetch=False)

    def action_cycle_min_score(self) -> None:
        self._update_settings(self.settings.next_min_score(), refetch=False)

    def set_min_score(self, score: int) -> None:
        self._update_settings(replace(self.settings, min_score=score), refetch=False)

    def action_cycle_leaderboard(self) -> None:
        self._update_settings(self.settings.next_leaderboard_metric(), refetch=True)

    def set_leaderboard_metric(self, metric: str) -> None:
        self._update_settings(replace(self.settings, leaderboard_metric=metric), refetch=True)

    def action_next_symbol(self) -> None:
        if len(self.symbols) > 1:
            i = self.symbols.index(self.focus_symbol) if self.focus_symbol in self.symbols else -1
            self.open_symbol(self.symbols[(i + 1) % len(self.symbols)])

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
        now = fmt.parse_iso_utc((self.status or {}).get("session_time"))
        if now is None:
            self.errors = ("seek: session time unknown",)
            self._push_to_screen()
            return
        target = now + timedelta(seconds=int(seconds))
        self._control("seek", target.strftime("%Y-%m-%dT%H:%M:%SZ"))

    def action_seek_prompt(self) -> None:
        def chosen(value: str | None) -> None:
            if value:
                self._control("seek", value)

        self.push_screen(SeekScreen(), chosen)

    @work(thread=True, group="control", exit_on_error=False)
    def _control(self, action: str, value: float | str | None = None) -> None:
        try:
            status = self.service.control(action, value)
        except Exception as exc:  # noqa: BLE001 - shown in the header
            self.post_message(ControlDone(None, f"{action}: {describe_error(exc)}"))
            return
        self.post_message(ControlDone(status, None))

    def on_control_done(self, message: ControlDone) -> None:
        if message.status is not None:
            self.status = dict(message.status)
            self.errors = ()
        if message.error is not None:
            self.errors = (message.error,)
        self._push_to_screen()
        if message.status is not None:
            self.refresh_now()

    # ------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Refresh now", "Fetch fresh data from the service", self.refresh_now)
        for metric in HEATMAP_METRICS:
            yield SystemCommand(f"Heatmap metric: {metric}", f"Show {metric} in the heatmap",
                                lambda m=metric: self.set_metric(m), discover=False)
        yield SystemCommand("Heatmap mode: raw / delta", "Toggle level vs bar-over-bar change",
                            self.action_toggle_heatmap_mode, discover=False)
        for symbol in self.symbols:
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
        yield SystemCommand("Help", "Show key bindings", self.action_help)

def run_tui(service: FlowServiceAPI, *, symbols: list[str], mode: Mode = "monitor", **options: Any) -> int:
    """Run the TUI until the user quits; returns the process exit code (0)."""
    app = ZdteApp(service, symbols=symbols, mode=mode, **options)
    app.run()
    return int(app.return_code or 0)
