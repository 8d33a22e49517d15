"""Skylit-compatible live heatmap (``GET /v1/heatmap``) built from a FlowService's 0DTE heatmap.

Shape (Skylit OpenAPI ``getHeatmap``)::

    {"data": {"symbols": [{symbol, asOf, spot, previousClose, priceChange, priceChangePercent,
                           expirations, strikes: [{strike, value, nodeType, velocityPct}]}]},
     "meta": {"metric", "resolution": "1m", "mode": "live", "cached": false}}

* ``value``: the strike's value in the latest 1m heatmap bar, ``metric=gamma`` -> ``gex``,
  ``metric=vanna`` -> ``vex`` (dollars, dealer-signed as the service reports them).
* ``strikes``: the ``maxStrikes`` strikes nearest spot (ties -> lower strike), ascending.
* ``nodeType``: classified over the *whole* strike grid of the latest bar (so a strike's type does
  not depend on ``maxStrikes``), first rule that matches wins:

  1. ``king``: the largest ``|value|`` (ties -> nearest spot); nothing else is classified when it
     is 0.
  2. ``gatekeeper``: the largest ``|value|`` strictly between spot and the king strike, if that is
     at least 25 % of the king's ``|value|`` (the barrier price meets on its way to the king).
  3. ``pika`` / ``barney``: ``|value| >= 25 %`` of king with the *opposite* sign to the king
     (a large contrarian node): ``pika`` when positive, ``barney`` when negative.
  4. ``significant``: ``|value| >= 25 %`` of king, same sign as the king.
  5. ``normal``: everything else.

* ``velocityPct = 100 * (value_now - value_then) / |value_then|`` where ``value_then`` is the
  strike's value in the latest bar stamped at least ``VELOCITY_WINDOW_MINUTES`` (5) minutes
  before the latest bar (the earliest bar returned when the session is younger than that).
  Omitted when ``value_then`` is 0 or there is only one bar. Rounded to 2 decimals.
* ``previousClose``: the snapshot's ``previous_close`` (null when the service does not know it);
  ``priceChange = spot - previousClose``, ``priceChangePercent = 100 * priceChange / previousClose``
  (both null without a previous close).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from zdte_tui.service.protocol import FlowServiceAPI, ServiceError

SKYLIT_METRICS = {"gamma": "gex", "vanna": "vex"}
DEFAULT_MAX_STRIKES = 92
MAX_STRIKES_LIMIT = 400
MAX_SYMBOLS = 16
VELOCITY_WINDOW_MINUTES = 5
SIGNIFICANT_FRACTION_OF_KING = 0.25


def nearest_strike_indices(strikes: np.ndarray, spot: float, max_strikes: int) -> np.ndarray:
    """Indices of the ``max_strikes`` strikes nearest ``spot`` (ties -> lower strike), ascending by strike."""
    strikes = np.asarray(strikes, dtype=float)
    if strikes.size == 0:
        return np.empty(0, dtype=int)
    chosen = np.lexsort((strikes, np.abs(strikes - spot)))[:max_strikes]  # primary |K - S|, then K
    return chosen[np.argsort(strikes[chosen], kind="stable")]


def classify_nodes(strikes: np.ndarray, values: np.ndarray, spot: float) -> list[str]:
    """Skylit ``nodeType`` per strike by the rule in the module docstring (king, gatekeeper, ...)."""
    strikes = np.asarray(strikes, dtype=float)
    values = np.nan_to_num(np.asarray(values, dtype=float))
    types = np.full(strikes.shape, "normal", dtype=object)
    if values.size == 0:
        return types.tolist()
    magnitude = np.abs(values)
    king = int(np.lexsort((np.abs(strikes - spot), -magnitude))[0])
    king_abs = magnitude[king]
    if king_abs == 0:
        return types.tolist()
    threshold = SIGNIFICANT_FRACTION_OF_KING * king_abs
    large = (magnitude >= threshold) & (magnitude > 0)  # a zero is never a node, even when the king is subnormal
    same_sign = np.sign(values) == np.sign(values[king])
    types[large & same_sign] = "significant"
    types[large & ~same_sign & (values > 0)] = "pika"
    types[large & ~same_sign & (values < 0)] = "barney"
    low, high = sorted((spot, strikes[king]))
    between = (strikes > low) & (strikes < high) & large
    between[king] = False
    if between.any():
        candidates = np.flatnonzero(between)
        types[candidates[np.argmax(magnitude[candidates])]] = "gatekeeper"
    types[king] = "king"
    return types.tolist()


def velocity_pct(values_now: np.ndarray, values_then: np.ndarray) -> np.ndarray:
    """``100 * (now - then) / |then|`` per strike; NaN where ``then`` is 0."""
    now = np.asarray(values_now, dtype=float)
    then = np.asarray(values_then, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(then != 0, 100.0 * (now - then) / np.abs(then), np.nan)


def velocity_reference_index(bar_times: list[str | None], window_minutes: float) -> int:
    """Index of the latest bar stamped ``<= t_latest - window_minutes`` (0 when none is that old).

    Falls back to ``len - 1 - window_minutes`` (one bar per minute) when stamps do not parse.
    """
    try:
        stamps = [datetime.fromisoformat(str(t).replace("Z", "+00:00")) for t in bar_times]
        cutoff = stamps[-1] - timedelta(minutes=window_minutes)
        older = [i for i, t in enumerate(stamps) if t <= cutoff]
    except (ValueError, TypeError):  # unparsable, or naive mixed with aware
        return max(0, len(bar_times) - 1 - int(window_minutes))
    return older[-1] if older else 0


def _finite_or_none(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def symbol_heatmap(heatmap: dict[str, Any], snapshot: dict[str, Any], max_strikes: int) -> dict[str, Any]:
    """One ``data.symbols[]`` element from a FlashAlpha heatmap response and a snapshot."""
    bars = heatmap.get("bars") or []
    grid = np.asarray(heatmap.get("strikes_grid") or [], dtype=float)
    spot = _finite_or_none(bars[-1].get("spot")) if bars else None
    if spot is None:
        spot = _finite_or_none(heatmap.get("underlying_price")) or _finite_or_none(snapshot.get("underlying_price"))
    previous_close = _finite_or_none(snapshot.get("previous_close"))
    change = None if previous_close is None or spot is None else round(spot - previous_close, 4)
    change_pct = (None if change is None or not previous_close
                  else round(100.0 * change / previous_close, 4))
    strikes: list[dict[str, Any]] = []
    if bars and grid.size:
        now = np.asarray(bars[-1]["values"], dtype=float)
        node_types = classify_nodes(grid, now, spot if spot is not None else float(np.median(grid)))
        then_index = velocity_reference_index([b.get("t") for b in bars], VELOCITY_WINDOW_MINUTES)
        velocity = (velocity_pct(now, np.asarray(bars[then_index]["values"], dtype=float))
                    if len(bars) > 1 else np.full(grid.shape, np.nan))
        for i in nearest_strike_indices(grid, spot if spot is not None else float(np.median(grid)), max_strikes):
            node: dict[str, Any] = {"strike": float(grid[i]), "value": _finite_or_none(now[i]) or 0.0,
                                    "nodeType": node_types[i]}
            if math.isfinite(velocity[i]):
                node["velocityPct"] = round(float(velocity[i]), 2)
            strikes.append(node)
    expiration = heatmap.get("expiration")
    return {
        "symbol": heatmap.get("symbol") or snapshot.get("symbol"),
        "asOf": bars[-1]["t"] if bars else heatmap.get("as_of"),
        "spot": spot,
        "previousClose": previous_close,
        "priceChange": change,
        "priceChangePercent": change_pct,
        "expirations": [expiration] if expiration else [],
        "strikes": strikes,
    }


def parse_symbols(symbols: str) -> list[str]:
    """``" spy, qqq "`` -> ``["SPY", "QQQ"]`` (order kept, duplicates dropped); 400 when empty or too many."""
    out: list[str] = []
    for raw in (symbols or "").split(","):
        sym = raw.strip().upper()
        if sym and sym not in out:
            out.append(sym)
    if not out:
        raise ServiceError("invalid_symbols", "symbols must name at least one ticker, e.g. symbols=SPY,QQQ")
    if len(out) > MAX_SYMBOLS:
        raise ServiceError("invalid_symbols", f"at most {MAX_SYMBOLS} symbols per call; got {len(out)}")
    return out


def skylit_heatmap(service: FlowServiceAPI, symbols: str, metric: str = "gamma",
                   max_strikes: int = DEFAULT_MAX_STRIKES) -> dict[str, Any]:
    """The full Skylit ``/v1/heatmap`` body; raises :class:`ServiceError` (rendered Skylit-style)."""
    if metric not in SKYLIT_METRICS:
        raise ServiceError("invalid_metric", f"metric must be gamma or vanna; got {metric!r}")
    if not 1 <= max_strikes <= MAX_STRIKES_LIMIT:
        raise ServiceError("invalid_parameter", f"maxStrikes must be 1-{MAX_STRIKES_LIMIT}; got {max_strikes}")
    elements = []
    for sym in parse_symbols(symbols):
        heatmap = service.heatmap(sym, metric=SKYLIT_METRICS[metric], mode="raw", bar="1m",
                                  minutes=VELOCITY_WINDOW_MINUTES + 2)
        snapshot = service.snapshot(sym)
        elements.append(symbol_heatmap(heatmap, snapshot, max_strikes))
    return {"data": {"symbols": elements},
            "meta": {"metric": metric, "resolution": "1m", "mode": "live", "cached": False}}
