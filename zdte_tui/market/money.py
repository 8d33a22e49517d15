"""Dollar amounts as short text (``$1.84B``, ``-$9.20M``): one formatter for the decision layer's
sentences and the TUI's panes."""

from __future__ import annotations

import math
import numbers
from typing import Any

SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def usd_short(value_usd: Any, *, signed: bool = False, digits: int | None = None, missing: str = "--") -> str:
    """``1.84e9`` -> ``$1.84B``, ``-9.2e6`` -> ``-$9.20M``, ``950`` -> ``$950``; ``missing`` for None,
    non-numbers and non-finite values. ``signed`` puts ``+`` before positive amounts. ``digits``
    fixes the decimals of a scaled amount; by default 2 below 10, 1 below 100, else 0."""
    if isinstance(value_usd, bool) or not isinstance(value_usd, numbers.Real):
        return missing
    value = float(value_usd)
    if not math.isfinite(value):
        return missing
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    magnitude = abs(value)
    for threshold, suffix in SUFFIXES:
        if magnitude >= threshold:
            scaled = magnitude / threshold
            places = digits if digits is not None else (2 if scaled < 10 else (1 if scaled < 100 else 0))
            return f"{sign}${scaled:.{places}f}{suffix}"
    return f"{sign}${magnitude:.0f}"


__all__ = ["usd_short"]
