"""Small pure helpers that turn FlashAlpha-shaped values into short display strings.

Nothing here touches Textual: every function is a plain value -> str mapping so panes and
renderables share one vocabulary (``$1.2B``, ``14:45``, ``4m ago``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from zdte_tui.market.calendar import ET
from zdte_tui.market.money import usd_short

SESSION_CLOSE_ET = (16, 0)

REGIME_NAMES = {
    "positive_gamma": "+GAMMA",
    "negative_gamma": "-GAMMA",
    "unknown": "REGIME ?",
}
FLOW_DIRECTION_NAMES = {
    "amplifying": "amplifying",
    "dampening": "dampening",
    "neutral": "neutral",
    "no_flow": "no flow",
    "regime_flip": "REGIME FLIP",
}
SEVERITY_ORDER = ("info", "watch", "alert")


@lru_cache(maxsize=4096)
def parse_iso_utc(text: str | None) -> datetime | None:
    """Parse an ISO-8601 timestamp (``Z`` or offset) into an aware UTC datetime; None if unparsable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@lru_cache(maxsize=8192)
def et_clock(text: str | None, *, seconds: bool = False) -> str:
    """``2026-06-05T18:45:12Z`` -> ``14:45`` (or ``14:45:12``) in US/Eastern; ``--:--`` if missing."""
    value = parse_iso_utc(text)
    if value is None:
        return "--:--:--" if seconds else "--:--"
    return value.astimezone(ET).strftime("%H:%M:%S" if seconds else "%H:%M")


def minutes_to_close(session_time: str | None) -> float | None:
    """Minutes from ``session_time`` to the 16:00 ET cash close (negative after the close)."""
    value = parse_iso_utc(session_time)
    if value is None:
        return None
    local = value.astimezone(ET)
    close = local.replace(hour=SESSION_CLOSE_ET[0], minute=SESSION_CLOSE_ET[1], second=0, microsecond=0)
    return (close - local).total_seconds() / 60.0


def duration_short(minutes: float | None) -> str:
    """``125.0`` -> ``2h05m``; ``4.5`` -> ``4m30s``; None -> ``--``."""
    if minutes is None or not math.isfinite(minutes):
        return "--"
    if minutes <= 0:
        return "closed"
    total_seconds = int(round(minutes * 60))
    hours, rem = divmod(total_seconds, 3600)
    mins, secs = divmod(rem, 60)
    if hours:
        return f"{hours}h{mins:02d}m"
    if mins >= 10:
        return f"{mins}m"
    return f"{mins}m{secs:02d}s"


def age_short(seconds: float | None) -> str:
    """Data age: ``3.2`` -> ``3s``; ``185`` -> ``3m``; None -> ``?``."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def money_short(value_usd: float | None, *, signed: bool = False) -> str:
    """``1.84e9`` -> ``$1.84B``; ``-9.2e6`` -> ``-$9.20M``; None -> ``--``."""
    return usd_short(value_usd, signed=signed)


def price(value: float | None, digits: int = 2) -> str:
    """Format a price; ``--`` when missing."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "--"
    return f"{value:,.{digits}f}"


def strike(value: float | None) -> str:
    """``590.0`` -> ``590``; ``592.5`` -> ``592.5``."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "--"
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"


def percent(fraction: float | None, digits: int = 0) -> str:
    """``0.641`` -> ``64%``; None -> ``--``."""
    if fraction is None or not isinstance(fraction, (int, float)) or not math.isfinite(fraction):
        return "--"
    return f"{fraction * 100:.{digits}f}%"


def regime_name(label: str | None) -> str:
    """``positive_gamma`` -> ``+GAMMA``."""
    if not label:
        return "REGIME ?"
    return REGIME_NAMES.get(label, label.replace("_", " ").upper())


def flow_direction_name(label: str | None) -> str:
    """``regime_flip`` -> ``REGIME FLIP``; unknown labels pass through."""
    if not label:
        return "--"
    return FLOW_DIRECTION_NAMES.get(label, label.replace("_", " "))


def dig(mapping: Any, *keys: str, default: Any = None) -> Any:
    """Nested ``dict.get``: ``dig(snap, "probabilities", "pin", "value")``; tolerant of None."""
    value = mapping
    for key in keys:
        if not isinstance(value, dict):
            return default
        value = value.get(key)
        if value is None:
            return default
    return value


def is_no_trade(setup: Mapping[str, Any]) -> bool:
    """Whether a setup entry is the ``no_trade`` verdict (``id``; ``name`` in older payloads)."""
    return (setup.get("id") or setup.get("name")) == "no_trade"


def setup_fit_text(setup: Any) -> str:
    """How well a setup's rules hold, as shown: ``4/4 met`` or ``3/4 met · 0.72``.

    A setup's ``confidence`` is a rule score (the met share of its weighted conditions, halved per
    failed key condition: docs/decision-layer.md), not a probability, so it is never shown as a
    percentage. The count of conditions met comes first; the score follows when it is below 1 (weights
    or a failed key condition make it differ from the count). ``no_trade`` has no conditions of its
    own: its text is empty (the pane shows why instead). An entry without conditions shows the score.
    """
    if not isinstance(setup, Mapping) or is_no_trade(setup):
        return ""
    met, failed = setup.get("conditions_met"), setup.get("conditions_failed")
    raw = setup.get("confidence")
    score = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
    score_text = f"{score:.2f}" if score is not None else ""
    if not isinstance(met, list) or not isinstance(failed, list) or not (met or failed):
        return score_text or "--"
    count = f"{len(met)}/{len(met) + len(failed)} met"
    if score is not None and score < 1.0:
        return f"{count} · {score_text}"
    return count


def no_intraday_flow_note(snapshot: Any) -> str | None:
    """Why flow panes are empty for a delayed snapshot (a Cboe download has no prints), else None."""
    meta = snapshot.get("metadata") if isinstance(snapshot, dict) else None
    if isinstance(meta, dict) and meta.get("delayed_snapshot"):
        return "no intraday flow in a delayed snapshot (levels come from settled OI)"
    return None
