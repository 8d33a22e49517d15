"""Seek prompt (``g`` in replay): type ``HH:MM`` (ET) and press Enter."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

HHMM = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")


class SeekScreen(ModalScreen[str | None]):
    """Returns the typed ``HH:MM`` or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="seek-box"):
            yield Label("Seek to (HH:MM ET)")
            yield Input(placeholder="14:30", id="seek-input")
            yield Label("", id="seek-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if HHMM.match(value):
            self.dismiss(value if len(value) == 5 else "0" + value)
        else:
            self.query_one("#seek-error", Label).update("[red]use HH:MM, e.g. 14:30[/red]")

    def action_cancel(self) -> None:
        self.dismiss(None)
