"""The full monitor screen for one symbol: header, heatmap, hedge flow, headline/setup,
signals tape and leaderboard; a clear message instead of the panes when the symbol has no
0DTE session. The screen only lays out and wires panes; the app owns data and view state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from zdte_tui.ui.clock import DisplayClock
from zdte_tui.ui.state import SymbolData, ViewSettings, degraded_message, no_data_message
from zdte_tui.ui.widgets.footer import Footer
from zdte_tui.ui.widgets.gex_profile import GexProfilePane
from zdte_tui.ui.widgets.header import StatusHeader
from zdte_tui.ui.widgets.headline import HeadlinePane
from zdte_tui.ui.widgets.heatmap import HeatmapPane
from zdte_tui.ui.widgets.hedge_flow import HedgeFlowPane
from zdte_tui.ui.widgets.leaderboard import LeaderboardPane
from zdte_tui.ui.widgets.levels import LevelsBar
from zdte_tui.ui.widgets.price_chart import PriceChartPane
from zdte_tui.ui.widgets.profile import ProfilePane
from zdte_tui.ui.widgets.signals import SignalsTape
from zdte_tui.ui.widgets.tide import TidePane


class SymbolScreen(Screen):
    """Everything about one symbol."""

    AUTO_FOCUS = "#signals"  # the tape takes up/down; Tab moves the focus (and what `e` exports) across panes

    BINDINGS = [
        Binding("m", "app.cycle_metric", "Metric"),
        Binding("d", "app.toggle_heatmap_mode", "Raw/Δ"),
        Binding("i", "app.zoom(1)", "Zoom in"),
        Binding("o", "app.zoom(-1)", "Zoom out"),
        # priority: the focused signals tape would otherwise take the arrow keys for scrolling
        Binding("left", "app.scroll_time(1)", "Older", show=False, priority=True),
        Binding("right", "app.scroll_time(-1)", "Newer", show=False, priority=True),
        Binding("end", "app.scroll_time(0)", "Newest", show=False, priority=True),
        Binding("f", "app.cycle_min_score", "Min score"),
        Binding("k", "app.cycle_tape('kind')", "Kind", show=False),
        Binding("v", "app.cycle_tape('side')", "Calls/puts", show=False),
        Binding("dollar_sign", "app.cycle_tape('premium')", "Premium", show=False),
        Binding("l", "app.cycle_leaderboard", "Board"),
        Binding("s", "app.next_symbol", "Symbol", show=False),
        Binding("e", "app.export", "Export"),
        Binding("c", "toggle_chart", "Chart"),
        Binding("p", "toggle_profile", "Profile"),
        Binding("t", "toggle_tide", "Tide"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, symbol: str, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.symbol = symbol

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield LevelsBar(id="levels")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                with Horizontal(id="heat-row"):
                    yield HeatmapPane(id="heatmap")
                    yield PriceChartPane(id="price")
                    yield GexProfilePane(id="gex-profile")
                    yield ProfilePane(id="profile")
                with Horizontal(id="flow-row"):
                    yield HedgeFlowPane(id="hedge")
                    yield TidePane(id="tide")
            with Vertical(id="right"):
                yield HeadlinePane(id="headline")
                yield SignalsTape(id="signals")
                yield LeaderboardPane(id="leaderboard")
        yield Static("", id="no-session")
        yield Footer()

    VIEW_CLASSES = ("-chart", "-tide", "-strike-profile")  # what `c`, `t` and `p` toggle

    def on_screen_resume(self) -> None:
        """Show the app's latest data as soon as this screen is the active one: after `s` back to a
        symbol seen before, or when a modal (help, alert log) closes over it, not at the next poll."""
        self.call_after_refresh(self._show_latest)

    def on_mount(self) -> None:
        self.call_after_refresh(self._show_latest)  # a resume before the panes were composed did nothing

    def _show_latest(self) -> None:
        push = getattr(self.app, "_push_to_screen", None)
        if callable(push) and self.app.screen is self and self.query(StatusHeader):
            push()

    def action_toggle_chart(self) -> None:
        """`c`: the price chart in place of the heatmap (both side by side at >= 190 columns)."""
        self.toggle_class("-chart")

    def action_toggle_profile(self) -> None:
        """`p`: the side slot shows the per-strike settled | live profile instead of net GEX vs spot."""
        self.toggle_class("-strike-profile")

    def action_toggle_tide(self) -> None:
        """`t`: the net-premium tide in place of the hedge flow (both side by side at >= 190 columns)."""
        self.toggle_class("-tide")

    def tick(self, mono: float) -> None:
        """Advance the header clock (the app calls this every second)."""
        for header in self.query(StatusHeader):
            header.tick(mono)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return getattr(self.app, "mode", None) == "watch"  # only when opened from the watch grid
        return True

    def action_back(self) -> None:
        self.app.back_to_watch()  # type: ignore[attr-defined]

    def show(self, data: SymbolData | None, settings: ViewSettings, *, status: Mapping[str, Any] | None,
             board: Mapping[str, Any] | None, errors: Sequence[str], mode: str,
             clock: DisplayClock | None = None, mono: float = 0.0, stale_since: str | None = None) -> None:
        """Push the latest data into every pane (called by the app)."""
        snapshot = data.snapshot if data else None
        self.query_one(StatusHeader).show(status, snapshot, self.symbol, errors, mode, clock=clock, mono=mono,
                                          stale_since=stale_since)
        self.query_one(LevelsBar).show(snapshot if degraded_message(snapshot) is None else None)
        message = degraded_message(snapshot)
        missing = no_data_message(errors) if snapshot is None else None
        self.set_class(message is not None or missing is not None, "-degraded")
        if message is not None:
            self.query_one("#no-session", Static).update(Text.assemble(
                (f"{self.symbol}: no 0DTE session to show", "bold"), f"\n\n{message}\n\n",
                ("The monitor keeps polling and fills in when a same-day expiry trades.", "dim")))
            return
        if missing is not None:  # never "loading…" for ever: a refused key or an unreachable service says so
            self.query_one("#no-session", Static).update(Text.assemble(
                (f"{self.symbol}: no data from the service", "bold"), f"\n\n{missing}"))
            return
        self.query_one(HeatmapPane).show(data, settings)
        self.query_one(GexProfilePane).show(data, settings)
        self.query_one(PriceChartPane).show(data, settings)
        self.query_one(ProfilePane).show(data, settings)
        self.query_one(HedgeFlowPane).show(data, settings)
        self.query_one(TidePane).show(data, settings)
        self.query_one(HeadlinePane).show(data, settings)
        self.query_one(SignalsTape).show(data, settings)
        self.query_one(LeaderboardPane).show(data, settings, board=board)
