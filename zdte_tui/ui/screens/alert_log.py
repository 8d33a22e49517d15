"""Alert log (``a``): every alert of this run, newest session time first, and where the log file is."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.alerts import Alert


def alert_log_markup(alerts: list[Alert], path: Path | None) -> str:
    lines = ["[b]Alerts[/b] (newest first)", ""]
    if not alerts:
        lines.append(
            "[dim]none yet: flip and wall crossings, regime changes, pin odds and strong signals show here[/dim]"
        )
    # newest *session time* first: a signal is found a poll after the print it flags, so arrival order
    # put 10:28:12 under 10:32:39 and above 10:28:52 (stable for equal times, undated last)
    ordered = sorted(reversed(alerts), key=lambda a: a.at or "", reverse=True)
    for alert in ordered:
        when = fmt.et_clock(alert.at, seconds=True)
        lines.append(f"[b cyan]{alert.symbol:<5}[/b cyan] {when} [yellow]{alert.rule:<8}[/yellow] "
                     f"{escape(alert.message)}")
    lines += ["", f"[dim]log file: {escape(str(path)) if path else 'off'}[/dim]", "[dim]escape or a closes[/dim]"]
    return "\n".join(lines)


class AlertLogScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,a,q", "dismiss", "Close")]

    def __init__(self, alerts: list[Alert], path: Path | None) -> None:
        super().__init__()
        self.alerts = alerts
        self.path = path

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="alert-box"):
            yield Static(alert_log_markup(self.alerts, self.path))
