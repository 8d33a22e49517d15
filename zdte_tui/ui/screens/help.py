"""Help screen (``?``): every key binding, grouped, plus what the panes mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Everywhere",
        (
            ("?", "this help"),
            ("r", "refresh now"),
            ("a", "alert log"),
            ("ctrl+p", "command palette (metric, symbol, theme…)"),
            ("q", "quit"),
        ),
    ),
    (
        "Monitor",
        (
            ("m", "cycle heatmap metric: gex → dex → vex → chex → oi → signed_flow"),
            ("d", "heatmap raw / delta (bar-over-bar change)"),
            ("i / o", "zoom strikes in / out"),
            ("← / →", "scroll heatmap time older / newer"),
            ("end", "back to the newest bar"),
            ("f", "signals: minimum score 0 → 50 → 70 → 85"),
            ("k / v / $", "signals: sweep/block · calls/puts · minimum premium (contract: palette)"),
            ("l", "leaderboard metric"),
            ("s", "next symbol (every symbol the service tracks)"),
            ("c", "price chart in place of the heatmap"),
            ("p", "per-strike GEX profile (settled | live)"),
            ("t", "net-premium tide (calls vs puts) in place of the hedge flow"),
            ("e", "export the focused pane (CSV) + screen (SVG)"),
            ("tab", "focus the next pane (what e exports)"),
            ("escape", "back to the watch grid"),
        ),
    ),
    ("Watch", (("arrows / tab", "move between cards"), ("enter", "open the symbol's monitor"))),
    (
        "Replay",
        (
            ("space", "play / pause"),
            (".", "step one minute"),
            ("+ / -", "faster / slower"),
            ("[ / ]", "seek back / forward 5 minutes"),
            ("g", "seek to HH:MM ET"),
        ),
    ),
)

LEGEND = (
    "[b]Header[/b]: spot and change vs prior close, regime (+GAMMA dealers long gamma, -GAMMA short), "
    "flow direction (e.g. flow reinforcing / eroding +GAMMA), severity, ET session clock, "
    "time to the close (13:00 on half days), "
    "source and data age (vs the session clock, ticking every second); STALE when the service stopped answering. "
    "[reverse] SIMULATED [/reverse] marks simulator data.\n"
    "[b]Heatmap[/b]: strikes as rows (highest on top), 1-minute bars as columns (newest right); green = positive, "
    "red = negative, brighter = larger |value| up to the 98th percentile (the legend's ±scale, with its unit); "
    "values under 8 % of it stay blank. Delta mode uses the raw mode's scale. ● marks spot; CW/PW call/put wall, "
    "MAG magnet, FLP gamma flip, MP max pain.\n"
    "[b]Refresh[/b]: every refresh period (default 30 s); with a fast replay/simulator clock at speed S, "
    "every min(period, max(1, period / S)) seconds."
)


def help_markup() -> str:
    lines = []
    for title, keys in HELP_SECTIONS:
        lines.append(f"[b u]{title}[/b u]")
        lines.extend(f"  [b cyan]{key:<14}[/b cyan] {text}" for key, text in keys)
        lines.append("")
    lines.append(LEGEND)
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """Modal key reference; any of escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_markup(), id="help-text")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)
