"""Headline + setup pane: narrative, trade angle and severity, the primary setup with its
confidence and strike legs, the pin/range probabilities, then alternatives and anti-setups (the key
levels have their own always-visible bar, :mod:`zdte_tui.ui.widgets.levels`).

When the pane is capped (``max-height``: 10 rows under 100 columns) :func:`fit_headline` makes the
text fit instead of letting the bottom be cut, giving rows up in this order: anti-setups and
alternatives, the blank line, then the narrative's last lines (ending in ``…``). The severity line,
the setup with *all* its legs and the probabilities stay (80x24 used to show ``buy 764P / sell``
and no odds at all)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.widgets.base import Pane

SEVERITY_STYLES = {"info": "bold black on cyan", "watch": "bold black on yellow", "alert": "bold white on red"}


def _legs_text(hint: Any) -> str:
    """``strikes_hint`` as ``bear call spread: sell 590C / buy 593C`` (FlowService's
    ``{structure, legs: [{action, right, strike}]}``), ``short_call 591 · long_call 593`` (a flat
    dict) or ``591 / 593`` (a list)."""
    if isinstance(hint, Mapping) and isinstance(hint.get("legs"), (list, tuple)):
        legs = " / ".join(
            f"{leg.get('action', '?')} {fmt.strike(leg.get('strike'))}{leg.get('right', '')}"
            for leg in hint["legs"] if isinstance(leg, Mapping))
        structure = str(hint.get("structure") or "").replace("_", " ")
        if not legs:
            return ""  # no trade: no legs line at all (not "none:")
        return f"{structure}: {legs}" if structure and structure != "none" else legs
    if isinstance(hint, Mapping):
        parts = []
        for key, value in hint.items():
            shown = fmt.strike(value) if isinstance(value, (int, float)) else (
                "/".join(fmt.strike(v) if isinstance(v, (int, float)) else str(v) for v in value)
                if isinstance(value, (list, tuple)) else str(value))
            parts.append(f"{key.replace('_', ' ')} {shown}")
        return " · ".join(parts)
    if isinstance(hint, (list, tuple)):
        return " / ".join(fmt.strike(v) if isinstance(v, (int, float)) else str(v) for v in hint)
    return str(hint) if hint else ""


def _probability(block: Any) -> tuple[str, str]:
    if isinstance(block, Mapping):
        value = fmt.percent(block.get("value"))
        if block.get("calibration_method") == "settled":  # after the close: an outcome, not odds
            value = {1.0: "settled in", 0.0: "settled out"}.get(block.get("value"), "settled")
        band = block.get("band") or (None, None)  # FlowService: band = [low, high] of the event
        low, high = block.get("low", band[0]), block.get("high", band[1])
        where = f"{fmt.price(low)}–{fmt.price(high)}" if low is not None and high is not None else (
            fmt.strike(block.get("strike")) if block.get("strike") is not None else "")
        return value, where
    if isinstance(block, (int, float)):
        return fmt.percent(block), ""
    return "--", ""


def headline_text(snapshot: Mapping[str, Any] | None) -> Text:
    """The pane's content, uncut (pure: unit-testable)."""
    if not snapshot:
        return Text("waiting for data…", style="grey50")
    return Text("\n").join(_sections(snapshot, narrative_lines=None, extras=None, blank=True))


def _wrapped_lines(text: Text, width: int) -> int:
    console = Console(width=width, color_system=None, legacy_windows=False)
    return len(text.wrap(console, width))


def fit_headline(snapshot: Mapping[str, Any] | None, width: int, max_lines: int | None) -> Text:
    """:func:`headline_text` made to fit ``max_lines`` rows of ``width`` cells (see the module doc)."""
    full = headline_text(snapshot)
    if not snapshot or max_lines is None or width <= 0 or _wrapped_lines(full, width) <= max_lines:
        return full
    extras = len(_extra_lines(snapshot))
    for keep in range(extras - 1, -1, -1):  # anti-setups and alternatives go first, from the bottom
        text = Text("\n").join(_sections(snapshot, narrative_lines=None, extras=keep, blank=True))
        if _wrapped_lines(text, width) <= max_lines:
            return text
    text = Text("\n").join(_sections(snapshot, narrative_lines=None, extras=0, blank=False))
    if _wrapped_lines(text, width) <= max_lines:
        return text
    narrative = _narrative(snapshot)
    total = _wrapped_lines(narrative, width)
    for keep in range(total - 1, 0, -1):  # then the narrative's last lines
        text = Text("\n").join(_sections(snapshot, narrative_lines=(keep, width), extras=0, blank=False))
        if _wrapped_lines(text, width) <= max_lines:
            return text
    return text  # one narrative line and still too tall: the pane cuts the rest from the bottom


def _narrative(snapshot: Mapping[str, Any]) -> Text:
    return Text((snapshot.get("headline") or {}).get("narrative") or "no headline", style="italic")


def _first_lines(text: Text, lines: int, width: int) -> Text:
    """The first ``lines`` wrapped rows of ``text``, the last ending in ``…``."""
    console = Console(width=width, color_system=None, legacy_windows=False)
    rows = text.wrap(console, width)
    if len(rows) <= lines:
        return text
    kept = Text("\n").join(rows[:lines])
    trailing = len(kept.plain) - len(kept.plain.rstrip())
    if trailing:  # rich's right_crop(0) empties the text (plain[:-0])
        kept.right_crop(trailing)
    if cell_len(kept.plain.rsplit("\n", 1)[-1]) >= width:  # room for the ellipsis on the last row
        kept.right_crop(1)
    kept.append("…", style="italic")
    return kept


def _extra_lines(snapshot: Mapping[str, Any]) -> list[Text]:
    """Alternatives then anti-setups, one Text each (what a short pane gives up first)."""
    setup = snapshot.get("setup") or {}
    out = []
    for alt in (setup.get("alternatives") or [])[:2]:
        line = Text("  alt ", style="grey50")
        line.append(f"{alt.get('display_name') or alt.get('name')} ({fmt.setup_fit_text(alt)})", style="grey70")
        out.append(line)
    for anti in (setup.get("anti_setups") or [])[:2]:
        line = Text("Avoid ", style="bold red")
        anti_name = anti.get("display_name") or anti.get("name") if isinstance(anti, Mapping) else str(anti)
        line.append(str(anti_name))
        reason = anti.get("reason") if isinstance(anti, Mapping) else None
        if reason:
            line.append(f" — {reason}", style="grey62")
        out.append(line)
    return out


def _sections(snapshot: Mapping[str, Any], *, narrative_lines: tuple[int, int] | None, extras: int | None,
              blank: bool) -> list[Text]:
    """The pane's lines (each may wrap): severity, narrative, [blank], setup and legs, odds, extras."""
    headline = snapshot.get("headline") or {}
    severity = headline.get("severity") or "info"
    first = Text(f" {severity.upper()} ", style=SEVERITY_STYLES.get(severity, "bold"))
    angle = headline.get("trade_angle")
    if angle:
        first.append(f" {angle.replace('_', ' ')}", style="bold")
    narrative = _narrative(snapshot)
    if narrative_lines is not None:
        narrative = _first_lines(narrative, *narrative_lines)
    lines = [first, narrative]
    if blank:
        lines.append(Text())

    text = Text()
    setup = snapshot.get("setup") or {}
    primary = setup.get("primary") or {}
    if primary:
        text.append("Setup ", style="bold cyan")
        text.append(primary.get("display_name") or primary.get("name") or "?", style="bold")
        fit = fmt.setup_fit_text(primary)
        if fit:
            text.append(f"  {fit}", style="cyan")
        legs = _legs_text(primary.get("strikes_hint"))
        if legs:
            text.append(f"\n  legs: {legs}", style="grey70")
        why = (primary.get("conditions_met") or []) if fmt.is_no_trade(primary) else []
        if why:
            text.append(f"\n  why: {why[0]}", style="grey70")
        failed = primary.get("conditions_failed") or []
        if failed:
            text.append(f"\n  failed: {', '.join(map(str, failed))}", style="yellow")

    if text.plain:
        lines.append(text)
    probabilities = snapshot.get("probabilities") or {}
    text = Text()
    pin_value, pin_where = _probability(probabilities.get("pin"))
    if pin_where == "" and fmt.dig(snapshot, "pin_risk", "magnet_strike") is not None:
        pin_where = fmt.strike(fmt.dig(snapshot, "pin_risk", "magnet_strike"))
    text.append("Pin ", style="bold")
    text.append(f"{pin_where} ", style="grey70")
    text.append(pin_value, style="bold magenta")
    for key, name in (("range_1sigma", "1σ"), ("range_2sigma", "2σ")):
        value, where = _probability(probabilities.get(key))
        text.append(f"  {name} ", style="bold")
        text.append(f"{where} ", style="grey70")
        text.append(value, style="bold magenta")
    lines.append(text)
    extra = _extra_lines(snapshot)
    return lines + (extra if extras is None else extra[:extras])


class HeadlinePane(Pane):
    """Headline, setup and probabilities of the focused symbol."""

    PANE_TITLE = "Headline · setup"

    def render(self) -> Text:
        cap = self.styles.max_height
        max_lines = int(cap.value) - self.styles.gutter.height if cap is not None and cap.is_cells else None
        return fit_headline(self.data.snapshot if self.data else None, self.content_size.width, max_lines)
