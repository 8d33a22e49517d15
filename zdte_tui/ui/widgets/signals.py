"""Signals tape: newest scored flow signals first, colored by intent, filtered by a minimum
score (``f`` cycles 0/50/70/85). A Line-API ``ScrollView`` with an LRU cache of rendered rows,
so a long session's tape costs only the visible lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.state import SymbolData, ViewSettings

# neutral rows and mid scores take the theme's foreground (no colour of their own): a fixed light
# grey or white was unreadable on a light theme
INTENT_STYLES = {"bullish": Style(color="green"), "bearish": Style(color="red"), "neutral": Style()}
HEADER_STYLE = Style(color="grey62", bold=True, underline=True)
SCORE_STYLES = ((85, Style(color="bright_magenta", bold=True)), (70, Style(color="yellow", bold=True)),
                (50, Style()), (0, Style(color="grey50")))
# (name, width, min total width to show it)
COLUMNS = (("time", 9, 0), ("contr", 7, 0), ("kind", 6, 0), ("aggr", 10, 60), ("prem", 8, 0),
           ("score", 6, 0), ("intent", 8, 0), ("tags", 0, 66))


def visible_signals(payload: Mapping[str, Any] | None, min_score: float, *, kind: str = "all", side: str = "all",
                    min_premium: float = 0, contract: str = "") -> list[Mapping[str, Any]]:
    """Signals passing every filter, newest first (the API orders by score): ``score >= min_score``,
    structure ``kind`` (sweep/block), ``side`` (C calls / P puts), ``premium >= min_premium`` and
    one ``contract`` (``590C``)."""
    signals = (payload or {}).get("signals") or []
    contract = contract.strip().upper()
    kept = [s for s in signals if (s.get("score") or 0) >= min_score
            and (kind == "all" or s.get("structure") == kind)
            and (side == "all" or s.get("right") == side)
            and (s.get("premium") or 0) >= min_premium
            and (not contract or f"{fmt.strike(s.get('strike'))}{s.get('right') or ''}" == contract)]
    return sorted(kept, key=lambda s: s.get("ts") or "", reverse=True)


def filter_label(settings: ViewSettings) -> str:
    """`` · score ≥ 70 · sweep · puts · ≥ $250K`` for the tape's title (empty when unfiltered)."""
    parts = []
    if settings.min_score:
        parts.append(f"score ≥ {settings.min_score}")
    if settings.tape_kind != "all":
        parts.append(settings.tape_kind)
    if settings.tape_side != "all":
        parts.append({"C": "calls", "P": "puts"}[settings.tape_side])
    if settings.tape_min_premium:
        parts.append(f"≥ {fmt.money_short(settings.tape_min_premium)}")
    if settings.tape_contract:
        parts.append(settings.tape_contract)
    return "".join(f" · {p}" for p in parts)


def _columns(width: int) -> list[tuple[str, int]]:
    return [(name, w) for name, w, min_total in COLUMNS if width >= min_total]


def _cells(signal: Mapping[str, Any]) -> dict[str, str]:
    right = signal.get("right") or "?"
    return {
        "time": fmt.et_clock(signal.get("ts"), seconds=True),
        "contr": f"{fmt.strike(signal.get('strike'))}{right}",
        "kind": str(signal.get("structure") or ""),
        "aggr": str(signal.get("aggressor") or ""),
        "prem": fmt.money_short(signal.get("premium")),
        "score": str(signal.get("score") if signal.get("score") is not None else "--"),
        "intent": str(signal.get("intent") or ""),
        # sweep/block have their own column and every print here is 0DTE: neither is news in the tags
        "tags": " ".join(t for t in (signal.get("tags") or []) if t not in ("sweep", "block", "0dte")),
    }


def signal_row(signal: Mapping[str, Any], width: int) -> list[Segment]:
    """One tape row as Segments exactly ``width`` cells wide (pure)."""
    cells = _cells(signal)
    intent_style = INTENT_STYLES.get(signal.get("intent") or "", INTENT_STYLES["neutral"])
    score = signal.get("score") or 0
    segments: list[Segment] = []
    used = 0
    for name, w in _columns(width):
        w = w or max(0, width - used)
        if name not in ("prem", "score"):
            text = cells[name][: max(0, w - 1)].ljust(w)
        else:
            text = cells[name].rjust(w - 1) + " "
        style = intent_style
        if name == "score":
            style = next(s for threshold, s in SCORE_STYLES if score >= threshold)
        elif name in ("time", "tags"):
            style = Style(color="grey62")
        segments.append(Segment(text[: max(0, width - used)], style))
        used += min(len(text), max(0, width - used))
        if used >= width:
            break
    if used < width:
        segments.append(Segment(" " * (width - used)))
    return segments


def header_row(width: int) -> list[Segment]:
    text = ""
    for name, w in _columns(width):
        w = w or max(0, width - len(text))
        text += (name.rjust(w - 1) + " ") if name in ("prem", "score") else name.ljust(w)
    return [Segment(text[:width].ljust(width), HEADER_STYLE)]


class SignalsTape(ScrollView, can_focus=True):
    """Scrollable tape of scored signals (line 0 is a fixed column header)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: Sequence[Mapping[str, Any]] = ()
        self.settings = ViewSettings()
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._pass: tuple[int, Style] | None = None  # (width, base style) while render_lines runs
        self.border_title = "Signals"

    def show(self, data: SymbolData | None, settings: ViewSettings, **_: Any) -> None:
        """Replace the tape's rows from the latest signals payload."""
        self.settings = settings
        self.rows = visible_signals(data.signals if data else None, settings.min_score, kind=settings.tape_kind,
                                    side=settings.tape_side, min_premium=settings.tape_min_premium,
                                    contract=settings.tape_contract)
        self._cache.clear()
        total = len((data.signals or {}).get("signals") or []) if data and data.signals else 0
        threshold = filter_label(settings)
        self.border_title = f"Signals{threshold} · {len(self.rows)}/{total}"
        note = fmt.no_intraday_flow_note(data.snapshot if data else None)
        if note:
            self.border_title = f"Signals · {note}"
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        self.refresh()

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)

    def render_lines(self, crop: Region) -> list[Strip]:
        # The width and the theme's style are the same for every line of one pass: look them up once
        # here instead of in each render_line (both walk the widget's styles and its ancestors).
        self._pass = (self.scrollable_content_region.width, self.rich_style)
        try:
            return super().render_lines(crop)
        finally:
            self._pass = None

    def render_line(self, y: int) -> Strip:
        width, base = self._pass or (self.scrollable_content_region.width, self.rich_style)
        # base: the theme's background under every row (light themes too)
        if y == 0:
            return Strip(header_row(width), width).apply_style(base)
        index = self.scroll_offset.y + y - 1
        if index >= len(self.rows):
            return Strip.blank(width, base)
        key = (index, width)
        strip = self._cache.get(key)
        if strip is None:
            if not self.rows:
                return Strip.blank(width, base)
            strip = Strip(signal_row(self.rows[index], width), width).apply_style(base)
            self._cache[key] = strip
        return strip
