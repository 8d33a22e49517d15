"""Input validation of the query surface: every bad argument becomes a documented
:class:`~zdte_tui.service.protocol.ServiceError` (code, one-line message, HTTP status)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from zdte_tui.service.protocol import ServiceError

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.^]{0,9}$")


def normalize_symbol(symbol: str) -> str:
    s = (symbol or "").strip().upper()
    if not SYMBOL_RE.match(s):
        raise ServiceError("invalid_symbol", f"'{symbol}' is not a valid ticker symbol", 400)
    return s


def clamp_minutes(minutes: Any) -> int:
    try:
        m = int(minutes)
    except (TypeError, ValueError):
        raise ServiceError("invalid_minutes", f"minutes must be an integer, got {minutes!r}", 400) from None
    return min(390, max(1, m))


def parse_expiry(expiry: str | None) -> dt.date | None:
    if expiry is None or expiry == "":
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(expiry)):
            raise ValueError
        return dt.date.fromisoformat(str(expiry))
    except ValueError:
        raise ServiceError("invalid_expiry", f"expiry must be yyyy-MM-dd, got {expiry!r}", 400) from None


def require_choice(value: Any, allowed: Sequence[str], code: str, message: str) -> None:
    """``ServiceError(code, message)`` (400) unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ServiceError(code, message, 400)


def clamp_count(n: Any, *, low: int, high: int, code: str, message: str) -> int:
    """``int(n)`` clamped to ``[low, high]``; ``ServiceError(code, message)`` if it is not an integer."""
    try:
        value = int(n)
    except (TypeError, ValueError):
        raise ServiceError(code, message, 400) from None
    return min(high, max(low, value))


__all__ = ["SYMBOL_RE", "clamp_count", "clamp_minutes", "normalize_symbol", "parse_expiry", "require_choice"]
