"""Alert log (``a``): every alert of this run, newest first, and where the log file is."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from zdte_tui.ui.alerts import Alert


def alert_log_markup(alerts: list[Alert], path: Path | None) -> str:
    lines = ["[b]Alerts[/b] (newest first)", ""]
    if not alerts:
        lines.append(
            "[dim]none yet: flip and wall crossings, regime changes, pin odds and strong signals show here[/dim]"
        )
    for alert in reversed(alerts):
        lines.append(f"[b cyan]{alert.symbol:<5}[/b cyan] [yellow]{alert.rule:<8}[/yellow] {escape(alert.line)}")
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
