"""Playback control of a replayable source's clock (simulator and replay; a live source has none).

:func:`apply_control` maps a ``control(action, value)`` call onto the source's
:class:`~zdte_tui.sources.base.PlaybackClock`; bad values become ``ServiceError("invalid_value")``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from zdte_tui.market import calendar
from zdte_tui.market.events import NS_PER_SECOND
from zdte_tui.service.protocol import CONTROL_ACTIONS, ServiceError


def apply_control(clock: Any, action: str, value: float | str | None,
                  session_date: Callable[[], dt.date]) -> None:
    """Pause, resume, toggle, step (seconds), set the speed (0 = as fast as possible) or seek
    (``HH:MM`` ET on ``session_date()``, or an ISO time) on ``clock``."""
    if action not in CONTROL_ACTIONS:
        raise ServiceError("invalid_action", f"action must be one of {', '.join(CONTROL_ACTIONS)}; got {action!r}", 400)
    if clock is None:
        raise ServiceError("not_controllable", "this source is live: it cannot be paused or seeked", 409)
    try:
        if action == "pause":
            clock.pause()
        elif action == "resume":
            clock.resume()
        elif action == "toggle":
            clock.resume() if clock.paused else clock.pause()
        elif action == "step":
            clock.step(_finite(value, 30.0))
        elif action == "speed":
            v = _finite(value, 1.0)
            if v < 0:
                raise ValueError("speed must be >= 0")
            clock.set_speed(v or None)
        elif action == "seek":
            clock.seek(seek_target_ns(value, session_date()))
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ServiceError("invalid_value", f"{action}: {exc}", 400) from None


def _finite(value: float | str | None, default: float) -> float:
    """A control value as a finite float (``ValueError`` for NaN, inf, booleans and non-numbers)."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def seek_target_ns(value: Any, session_date: dt.date) -> int:
    """``HH:MM`` (ET on ``session_date``) or an ISO time (naive = ET) -> ns since the epoch."""
    if value is None:
        raise ValueError("seek needs a time (HH:MM ET or ISO)")
    text = str(value)
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        return calendar.et_clock_to_ns(session_date, text)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read {text!r} as HH:MM or an ISO time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=calendar.ET)
    return int(when.timestamp() * NS_PER_SECOND)


__all__ = ["apply_control", "seek_target_ns"]
