"""Number and time formatting of every response: finite numbers or None, ISO-8601 UTC times.

Every numeric field the service returns passes through :func:`num` (or :func:`floats` for arrays),
so no response ever carries NaN or infinity.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from zdte_tui.market.events import NS_PER_SECOND


def num(x: Any, nd: int | None = None) -> float | None:
    """A finite Python float (optionally rounded) or None: never NaN/inf in output."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    return round(f, nd) if nd is not None else f


def integer(x: Any) -> int | None:
    """A finite number rounded to a Python int, or None."""
    f = num(x)
    return None if f is None else int(round(f))


def iso(ts_ns: int | None) -> str | None:
    """ns since the epoch -> ISO-8601 UTC with a Z (None for unset times)."""
    if ts_ns is None or ts_ns <= 0:
        return None
    return dt.datetime.fromtimestamp(ts_ns / NS_PER_SECOND, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pct(a: float | None, b: float | None, nd: int = 3) -> float | None:
    """100 * (a - b) / b."""
    if a is None or b is None or not b:
        return None
    return num(100.0 * (a - b) / b, nd)


def floats(a: np.ndarray, nd: int = 2) -> list[float | None]:
    """Array -> list of rounded floats with NaN/inf as None (vectorized rounding)."""
    a = np.asarray(a, dtype=np.float64)
    r = np.round(a, nd)
    ok = np.isfinite(r)
    out = r.tolist()
    if not ok.all():
        for i in np.flatnonzero(~ok):
            out[i] = None
    return out


__all__ = ["floats", "integer", "iso", "num", "pct"]
