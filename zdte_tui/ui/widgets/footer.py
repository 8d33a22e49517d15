"""Textual's key footer, composed without restyling each key twice on mount.

Textual's ``FooterKey.compact`` starts True and is then bound to the footer's ``compact`` (False
here): on mount every key adds the ``-compact`` class, restyling itself, and at once removes it,
restyling again (about thirty single-node restyles at start-up, and again on each recompose). This
footer gives each bound key the footer's value before it mounts, so neither change happens; the keys,
their classes and what the footer shows are the same. The command-palette key is not bound to the
footer's value and is left as Textual makes it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey


class Footer(TextualFooter):
    """``textual.widgets.Footer`` whose bound keys start with the footer's ``compact`` value."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget
