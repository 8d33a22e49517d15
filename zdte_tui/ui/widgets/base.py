"""Shared base for the monitor's panes: they receive immutable data and only draw it.

A pane never calls the service and never touches a sibling; the screen calls
:meth:`Pane.show` with the latest :class:`SymbolData` and :class:`ViewSettings`
("attributes down, messages up").
"""

from __future__ import annotations

from typing import Any

from textual.widget import Widget

from zdte_tui.ui.state import SymbolData, ViewSettings


class Pane(Widget, can_focus=True):
    """A bordered pane that redraws from the last data pushed into it (focusable: `e` exports the
    focused pane's data)."""

    PANE_TITLE = ""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.data: SymbolData | None = None
        self.settings: ViewSettings = ViewSettings()
        self.extra: dict[str, Any] = {}
        self.border_title = self.PANE_TITLE

    def show(self, data: SymbolData | None, settings: ViewSettings, **extra: Any) -> None:
        """Replace the pane's data and redraw."""
        self.data = data
        self.settings = settings
        self.extra = extra
        self.data_changed()
        # panes with ``height: auto`` (the headline) must re-measure when their content changes
        self.refresh(layout=self.styles.height is not None and self.styles.height.is_auto)

    def data_changed(self) -> None:
        """Hook: invalidate caches after :meth:`show` (default: nothing)."""
