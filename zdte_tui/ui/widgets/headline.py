"""Headline + setup pane: narrative, trade angle and severity, the primary setup with its
confidence and strike legs, the pin/range probabilities, then alternatives and anti-setups (what
a short terminal cuts first; the key levels have their own always-visible bar,
:mod:`zdte_tui.ui.widgets.levels`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    """The pane's content (pure: unit-testable)."""
    text = Text()
    if not snapshot:
        text.append("waiting for data…", style="grey50")
        return text
    headline = snapshot.get("headline") or {}
    severity = headline.get("severity") or "info"
    text.append(f" {severity.upper()} ", style=SEVERITY_STYLES.get(severity, "bold"))
    angle = headline.get("trade_angle")
    if angle:
        text.append(f" {angle.replace('_', ' ')}", style="bold")
    text.append("\n")
    text.append(headline.get("narrative") or "no headline", style="italic")
    text.append("\n")

    setup = snapshot.get("setup") or {}
    primary = setup.get("primary") or {}
    if primary:
        text.append("\nSetup ", style="bold cyan")
        text.append(primary.get("display_name") or primary.get("name") or "?", style="bold")
        text.append(f"  {fmt.confidence_text(primary.get('confidence'))}", style="cyan")
        legs = _legs_text(primary.get("strikes_hint"))
        if legs:
            text.append(f"\n  legs: {legs}", style="grey70")
        failed = primary.get("conditions_failed") or []
        if failed:
            text.append(f"\n  failed: {', '.join(map(str, failed))}", style="yellow")

    probabilities = snapshot.get("probabilities") or {}
    text.append("\n")
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
    for alt in (setup.get("alternatives") or [])[:2]:
        text.append("\n  alt ", style="grey50")
        text.append(f"{alt.get('display_name') or alt.get('name')} ({fmt.confidence_text(alt.get('confidence'))})",
                    style="grey70")
    for anti in (setup.get("anti_setups") or [])[:2]:
        text.append("\nAvoid ", style="bold red")
        anti_name = anti.get("display_name") or anti.get("name") if isinstance(anti, Mapping) else str(anti)
        text.append(str(anti_name))
        reason = anti.get("reason") if isinstance(anti, Mapping) else None
        if reason:
            text.append(f" — {reason}", style="grey62")
    return text


class HeadlinePane(Pane):
    """Headline, setup and probabilities of the focused symbol."""

    PANE_TITLE = "Headline · setup"

    def render(self) -> Text:
        return headline_text(self.data.snapshot if self.data else None)
