"""Header pane: symbol, spot and change, ET session clock, time to close, source, data age,
the SIMULATED badge, regime and flow-direction labels, playback state, and source errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widget import Widget

from zdte_tui.ui import formatting as fmt
from zdte_tui.ui.clock import DisplayClock

REGIME_STYLES = {"positive_gamma": "bold green", "negative_gamma": "bold red"}
FLOW_STYLES = {
    "amplifying": "yellow",
    "dampening": "cyan",
    "regime_flip": "bold reverse red",
    "neutral": "white",
    "no_flow": "grey50",
}


def data_age_seconds(status: Mapping[str, Any] | None) -> float | None:
    """Age of the freshest feed at the moment of the status (session clock, not the wall clock)."""
    return DisplayClock.from_status(status, 0.0).age_seconds(0.0)


def header_lines(
    status: Mapping[str, Any] | None,
    snapshot: Mapping[str, Any] | None,
    symbol: str,
    errors: Sequence[str],
    mode: str,
    *,
    clock: DisplayClock | None = None,
    mono: float = 0.0,
    stale_since: str | None = None,
) -> tuple[Text, Text]:
    """The two header lines as Rich Text (pure: unit-testable).

    ``clock`` (default: built from ``status`` at ``mono`` 0) gives the ticking session time, the
    time to the calendar close and the data age at monotonic instant ``mono``; ``stale_since``
    (an ET time) says the panes keep showing data the service could not refresh.
    """
    snapshot = snapshot or {}
    status = status or {}
    if clock is None:
        clock = DisplayClock.from_status(status, mono, snapshot)
    top = Text(no_wrap=True, overflow="ellipsis")
    top.append(f" {symbol} ", style="bold reverse")
    spot = snapshot.get("underlying_price")
    if snapshot.get("no_zero_dte"):
        nxt = snapshot.get("next_zero_dte_expiry")
        top.append(
            f" NO 0DTE TODAY · next {nxt}"
            if nxt
            else " NO 0DTE TODAY · no same-day expiry listed (see [calendar.weekly_expiries])",
            style="bold yellow",
        )
    elif snapshot.get("session_closed"):
        top.append(f" SESSION CLOSED · next 0DTE {snapshot.get('next_zero_dte_expiry') or '?'}", style="bold yellow")
    elif mode != "watch":  # the watch grid's header names several symbols: each card has its spot
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
        top.append(
            f" {severity.upper()} ",
            style={"alert": "bold white on red", "watch": "bold black on yellow"}.get(severity, "bold black on cyan"),
        )
    if status.get("simulated"):
        top.append("  ")
        top.append(" SIMULATED ", style="bold black on yellow")
    feed = feed_badge(status.get("feed_health"))
    if feed:
        top.append("  ")
        top.append(f" {feed} ", style="bold white on red")
        top.append(f" {DOCTOR_HINT}", style="bold red")
    clock_state = status.get("clock") or {}
    speed = clock_state.get("speed")
    if clock.at_end and (mode == "replay" or clock_state.get("controllable")):
        top.append("  ")
        top.append(" ■ END of session " + ("(recording over) " if mode == "replay" else ""), style="bold white on blue")
    elif mode == "replay" or clock_state.get("paused") or (speed is not None and speed != 1):
        top.append("  ")
        state = "❚❚ PAUSED" if clock_state.get("paused") else "▶ PLAY"
        speed_text = "max" if speed == 0 else (f"x{speed:g}" if isinstance(speed, (int, float)) else "")
        top.append(f" {state} {speed_text} ", style="bold white on blue")

    bottom = Text(no_wrap=True, overflow="ellipsis")
    now = clock.now(mono)
    bottom.append(
        f" {fmt.et_clock(now.strftime('%Y-%m-%dT%H:%M:%SZ') if now else None, seconds=True)} ET", style="bold"
    )
    if clock.catching_up and clock.data_time is not None:
        bottom.append(
            f" (loading, data at {fmt.et_clock(clock.data_time.strftime('%Y-%m-%dT%H:%M:%SZ'), seconds=True)})",
            style="bold yellow",
        )
    ttc = clock.minutes_to_close(mono)
    if ttc is None and isinstance(snapshot.get("time_to_close_hours"), (int, float)):
        ttc = snapshot["time_to_close_hours"] * 60
    if ttc is not None and ttc <= 0:
        close = clock.close.strftime("%Y-%m-%dT%H:%M:%SZ") if clock.close else None
        bottom.append("  market closed" + (f" at {fmt.et_clock(close)}" if close else ""), style="bold")
    else:
        bottom.append("  close in ", style="grey50")
        bottom.append(fmt.duration_short(ttc), style="bold")
        if clock.close is not None:
            bottom.append(f" ({fmt.et_clock(clock.close.strftime('%Y-%m-%dT%H:%M:%SZ'))})", style="grey50")
    age = clock.age_seconds(mono)
    if not (clock.catching_up and clock.data_time is not None):  # a seek says "loading, data at ..." instead
        bottom.append("  data ", style="grey50")
        bottom.append(fmt.age_short(age), style="red" if age is not None and age > 120 else "green")
    if stale_since:
        bottom.append("  ")
        bottom.append(f" STALE: showing data of {stale_since} ET ", style="bold white on red")
    # what matters most comes first: narrow terminals cut the line from the right
    all_errors = list(status.get("errors") or []) + list(errors)
    gaps = status.get("gaps") or []
    if gaps:
        all_errors.append(f"{len(gaps)} feed gap(s)")
    if all_errors:
        bottom.append("  │ ", style="grey50")
        bottom.append(
            f"⚠ {all_errors[-1]}" + (f" (+{len(all_errors) - 1})" if len(all_errors) > 1 else ""), style="bold red"
        )
        if status.get("feed_health") is not None and not feed:  # a live feed's error: say where to look
            bottom.append(f" {DOCTOR_HINT}", style="bold red")
    label = status.get("label") or status.get("source")
    if label:
        bottom.append("  │ ", style="grey50")
        bottom.append(str(label))
    date = status.get("session_date")
    if date and str(date) not in str(label or ""):  # a replay's label already names its date
        bottom.append(f"  {date}", style="grey62")
    return top, bottom


DOCTOR_HINT = "→ run `zdte doctor`"
"""Shown beside a live feed's failure: the command that checks the feed end to end and says what to fix."""


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
        self._args: tuple | None = None

    def show(
        self,
        status: Mapping[str, Any] | None,
        snapshot: Mapping[str, Any] | None,
        symbol: str,
        errors: Sequence[str] = (),
        mode: str = "monitor",
        *,
        clock: DisplayClock | None = None,
        mono: float = 0.0,
        stale_since: str | None = None,
    ) -> None:
        self._args = (status, snapshot, symbol, tuple(errors), mode, clock, stale_since)
        self.tick(mono)

    def tick(self, mono: float) -> None:
        """Redraw at monotonic instant ``mono`` (the app calls this every second)."""
        if self._args is None:
            return
        status, snapshot, symbol, errors, mode, clock, stale_since = self._args
        self._lines = header_lines(
            status, snapshot, symbol, errors, mode, clock=clock, mono=mono, stale_since=stale_since
        )
        self.refresh()

    def render(self) -> Text:
        return Text("\n").join(self._lines)
