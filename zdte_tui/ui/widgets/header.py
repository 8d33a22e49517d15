"""Header pane: symbol, spot and change, ET session clock, time to close, source, data age,
the SIMULATED badge, regime and flow-direction labels, playback state, and source errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widget import Widget

from zdte_tui.ui import formatting as fmt

REGIME_STYLES = {"positive_gamma": "bold green", "negative_gamma": "bold red"}
FLOW_STYLES = {"amplifying": "yellow", "dampening": "cyan", "regime_flip": "bold reverse red", "neutral": "white",
               "no_flow": "grey50"}


def data_age_seconds(status: Mapping[str, Any] | None) -> float | None:
    """Age of the freshest flow/options feed relative to the *session* clock (not the wall clock),
    so replay and simulator ages are meaningful; None when unknown."""
    if not status:
        return None
    now = fmt.parse_iso_utc(status.get("session_time"))
    feeds = status.get("data_as_of") or {}
    stamps = [fmt.parse_iso_utc(feeds.get(k)) for k in ("flow_feed", "equity_options_feed", "index_options_feed",
                                                        "equity_feed", "index_feed") if isinstance(feeds, dict)]
    stamps = [s for s in stamps if s is not None]
    if now is None or not stamps:
        return None
    return (now - max(stamps)).total_seconds()


def header_lines(status: Mapping[str, Any] | None, snapshot: Mapping[str, Any] | None, symbol: str,
                 errors: Sequence[str], mode: str) -> tuple[Text, Text]:
    """The two header lines as Rich Text (pure: unit-testable)."""
    snapshot = snapshot or {}
    status = status or {}
    top = Text(no_wrap=True, overflow="ellipsis")
    top.append(f" {symbol} ", style="bold reverse")
    spot = snapshot.get("underlying_price")
    if snapshot.get("no_zero_dte"):
        nxt = snapshot.get("next_zero_dte_expiry")
        top.append(f" NO 0DTE TODAY · next {nxt}" if nxt else " NO 0DTE TODAY · no same-day expiry listed "
                   "(see [calendar.weekly_expiries])", style="bold yellow")
    elif snapshot.get("session_closed"):
        top.append(f" SESSION CLOSED · next 0DTE {snapshot.get('next_zero_dte_expiry') or '?'}", style="bold yellow")
    else:
        top.append(f" {fmt.price(spot)}", style="bold")
    prev = snapshot.get("prev_close")
    if isinstance(spot, (int, float)) and isinstance(prev, (int, float)) and prev:
        change = spot - prev
        top.append(f" {change:+.2f} ({change / prev * 100:+.2f}%)", style="green" if change >= 0 else "red")
    regime = fmt.dig(snapshot, "regime", "label")
    if regime:
        top.append("  │ ", style="grey50")
        top.append(fmt.regime_name(regime), style=REGIME_STYLES.get(regime, "bold"))
    flow = fmt.dig(snapshot, "flow_direction", "label")
    phrase = fmt.dig(snapshot, "headline", "flow_phrase")  # "flow reinforcing +GAMMA": unambiguous
    if flow and phrase:
        top.append("  │ ", style="grey50")
        top.append(str(phrase), style=FLOW_STYLES.get(flow, "white"))
    elif flow:
        top.append("  │ flow ", style="grey50")
        top.append(fmt.flow_direction_name(flow), style=FLOW_STYLES.get(flow, "white"))
    severity = fmt.dig(snapshot, "headline", "severity")
    if severity:
        top.append("  │ ", style="grey50")
        top.append(f" {severity.upper()} ", style={"alert": "bold white on red", "watch": "bold black on yellow"}.get(
            severity, "bold black on cyan"))
    if status.get("simulated"):
        top.append("  ")
        top.append(" SIMULATED ", style="bold black on yellow")
    feed = feed_badge(status.get("feed_health"))
    if feed:
        top.append("  ")
        top.append(f" {feed} ", style="bold white on red")
    clock = status.get("clock") or {}
    speed = clock.get("speed")
    if mode == "replay" or clock.get("paused") or (speed is not None and speed != 1):
        top.append("  ")
        state = "❚❚ PAUSED" if clock.get("paused") else "▶ PLAY"
        speed_text = "max" if speed == 0 else (f"x{speed:g}" if isinstance(speed, (int, float)) else "")
        top.append(f" {state} {speed_text} ", style="bold white on blue")

    bottom = Text(no_wrap=True, overflow="ellipsis")
    session_time = status.get("session_time")
    bottom.append(f" {fmt.et_clock(session_time, seconds=True)} ET", style="bold")
    date = status.get("session_date")
    if date:
        bottom.append(f" {date}", style="grey62")
    ttc = fmt.minutes_to_close(session_time)
    if ttc is None and isinstance(snapshot.get("time_to_close_hours"), (int, float)):
        ttc = snapshot["time_to_close_hours"] * 60
    bottom.append("  close in ", style="grey50")
    bottom.append(fmt.duration_short(ttc), style="bold")
    label = status.get("label") or status.get("source")
    if label:
        bottom.append("  │ ", style="grey50")
        bottom.append(str(label))
    age = data_age_seconds(status)
    bottom.append("  data ", style="grey50")
    bottom.append(fmt.age_short(age), style="red" if age is not None and age > 120 else "green")
    all_errors = list(status.get("errors") or []) + list(errors)
    gaps = status.get("gaps") or []
    if gaps:
        all_errors.append(f"{len(gaps)} feed gap(s)")
    if all_errors:
        bottom.append("  │ ", style="grey50")
        bottom.append(f"⚠ {all_errors[-1]}" + (f" (+{len(all_errors) - 1})" if len(all_errors) > 1 else ""),
                      style="bold red")
    return top, bottom


def feed_badge(health: Mapping[str, Any] | None) -> str | None:
    """``FEED DOWN options (retry 4s)`` / ``FEED STALE stocks`` from a live source's health, or None
    when every channel is connected and receiving (or the source is not live)."""
    channels = (health or {}).get("channels") or {}
    down = [name for name, c in channels.items() if not c.get("connected")]
    stale = [name for name, c in channels.items() if c.get("connected") and c.get("stale")]
    if down:
        retry = [c.get("retry_in_s") for n, c in channels.items() if n in down and c.get("retry_in_s") is not None]
        return f"FEED DOWN {','.join(down)}" + (f" (retry {min(retry):.0f}s)" if retry else "")
    if stale:
        return f"FEED STALE {','.join(stale)}"
    return None


class StatusHeader(Widget):
    """Two-line header; call :meth:`show` with the service status and the symbol's snapshot."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: tuple[Text, Text] = (Text(" zdte"), Text(" connecting…"))

    def show(self, status: Mapping[str, Any] | None, snapshot: Mapping[str, Any] | None, symbol: str,
             errors: Sequence[str] = (), mode: str = "monitor") -> None:
        self._lines = header_lines(status, snapshot, symbol, errors, mode)
        self.refresh()

    def render(self) -> Text:
        return Text("\n").join(self._lines)
