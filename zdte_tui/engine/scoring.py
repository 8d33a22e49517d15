"""Flow-signal scoring: a transparent 0-100 score whose integer components sum exactly to it.

Everything here is vectorized over signals (one array element per signal) and pure. The
wire vocabulary follows the FlashAlpha ``FlowSignal`` contract (``score``, ``conviction``,
``tags``, ``intent``, ``score_breakdown``). Integer codes for the categorical inputs are
exported below so the engine can keep signals in numpy arrays.

Component caps (they sum to 100, so clipping each component keeps ``sum == score``)::

    premium 30 | size_vs_oi 20 | aggressor 15 | sweep 12 | opening_bias 10 | tenor 13

See ``docs/decision-layer.md`` for every formula.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# ---- code conventions --------------------------------------------------------------------
AGGRESSOR_ABOVE_ASK = 2
AGGRESSOR_AT_ASK = 1
AGGRESSOR_MID = 0
AGGRESSOR_AT_BID = -1
AGGRESSOR_BELOW_BID = -2
AGGRESSOR_UNKNOWN = -9
AGGRESSOR_LABELS: dict[int, str] = {
    AGGRESSOR_ABOVE_ASK: "above_ask",
    AGGRESSOR_AT_ASK: "at_ask",
    AGGRESSOR_MID: "mid",
    AGGRESSOR_AT_BID: "at_bid",
    AGGRESSOR_BELOW_BID: "below_bid",
    AGGRESSOR_UNKNOWN: "unknown",
}

SIDE_BUY = 1
SIDE_SELL = -1
SIDE_MID = 0
SIDE_LABELS: dict[int, str] = {SIDE_BUY: "buy", SIDE_SELL: "sell", SIDE_MID: "mid"}

BIAS_OPENING = 1
BIAS_CLOSING = -1
BIAS_UNKNOWN = 0
BIAS_LABELS: dict[int, str] = {BIAS_OPENING: "opening_bias", BIAS_CLOSING: "closing_bias",
                               BIAS_UNKNOWN: "unknown"}

# ---- component caps (sum to 100) ----------------------------------------------------------
SCORE_COMPONENT_CAPS: dict[str, int] = {
    "premium": 30,
    "size_vs_oi": 20,
    "aggressor": 15,
    "sweep": 12,
    "opening_bias": 10,
    "tenor": 13,
}
assert sum(SCORE_COMPONENT_CAPS.values()) == 100

PREMIUM_FLOOR_USD = 10_000.0       # premium at or below this scores 0
PREMIUM_FULL_USD = 5_000_000.0     # premium at or above this scores the full 30
SIZE_VS_OI_FULL_RATIO = 1.0        # print size >= contract OI scores the full 20
AGGRESSOR_ALIGNED_STRONG = 15      # buy above ask / sell below bid
AGGRESSOR_ALIGNED_AT_QUOTE = 12    # buy at ask / sell at bid
AGGRESSOR_AMBIGUOUS = 4            # mid print, or side mid
AGGRESSOR_CONTRADICTED = 2         # buy at/below bid, sell at/above ask
OPENING_BIAS_POINTS = {BIAS_OPENING: 10, BIAS_UNKNOWN: 3, BIAS_CLOSING: 0}
TENOR_DECAY_DAYS = 10.0            # tenor = 13 * exp(-dte / 10)

CONVICTION_HIGH_MIN = 70           # score >= 70 -> "high"
CONVICTION_MEDIUM_MIN = 40         # 40 <= score < 70 -> "medium", else "low"

WHALE_PREMIUM_USD = 1_000_000.0    # "whale" tag: premium >= $1M
GOLDEN_MIN_SCORE = 70              # "golden": top decile of the response and score >= 70
GOLDEN_TOP_FRACTION = 0.10


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5).astype(np.int64)


def _f64(x: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=np.float64))


def _i64(x: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=np.int64))


def score_signals(premium_usd: Any, size: Any, contract_oi: Any, aggressor_code: Any, is_sweep: Any,
                  open_close_bias_code: Any, dte: Any, side_code: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Score signals 0-100; returns ``(score, breakdown)`` with int64 arrays summing exactly to score.

    premium      = round(30 * clip(log10(p / $10K) / log10($5M / $10K), 0, 1))
    size_vs_oi   = round(20 * sqrt(clip(size / max(OI, 1), 0, 1)))   (NaN/negative OI -> 0)
    aggressor    = 15 buy above_ask / sell below_bid; 12 buy at_ask / sell at_bid;
                   4 mid print or side mid; 2 print against the side; 0 unknown
    sweep        = 12 if the print is part of a sweep else 0
    opening_bias = 10 opening_bias, 3 unknown, 0 closing_bias
    tenor        = round(13 * exp(-max(dte, 0) / 10))   (0DTE -> 13)
    Each component is clipped to its cap and the caps sum to 100, so 0 <= score <= 100.
    """
    premium = _f64(premium_usd)
    size_arr = _f64(size)
    oi = _f64(contract_oi)
    agg = _i64(aggressor_code)
    sweep = np.atleast_1d(np.asarray(is_sweep, dtype=bool))
    bias = _i64(open_close_bias_code)
    dte_arr = _f64(dte)
    side = _i64(side_code)

    caps = SCORE_COMPONENT_CAPS
    with np.errstate(divide="ignore", invalid="ignore"):
        prem_frac = np.log10(np.maximum(premium, 1e-9) / PREMIUM_FLOOR_USD) / math.log10(
            PREMIUM_FULL_USD / PREMIUM_FLOOR_USD)
    prem_frac = np.where(np.isfinite(prem_frac), np.clip(prem_frac, 0.0, 1.0), 0.0)
    premium_pts = _round_half_up(caps["premium"] * prem_frac)

    oi_known = np.isfinite(oi) & (oi >= 0)
    ratio = np.where(oi_known & np.isfinite(size_arr), np.maximum(size_arr, 0.0)
                     / np.maximum(np.where(oi_known, oi, 1.0), 1.0), 0.0)
    size_pts = _round_half_up(caps["size_vs_oi"] * np.sqrt(np.clip(ratio / SIZE_VS_OI_FULL_RATIO, 0.0, 1.0)))

    strong = np.abs(agg) == 2
    aligned = ((side == SIDE_BUY) & (agg > 0)) | ((side == SIDE_SELL) & (agg < 0) & (agg != AGGRESSOR_UNKNOWN))
    contradicted = ((side == SIDE_BUY) & (agg < 0)) | ((side == SIDE_SELL) & (agg > 0))
    aggressor_pts = np.full(agg.shape, AGGRESSOR_AMBIGUOUS, dtype=np.int64)
    aggressor_pts = np.where(aligned & strong, AGGRESSOR_ALIGNED_STRONG, aggressor_pts)
    aggressor_pts = np.where(aligned & ~strong, AGGRESSOR_ALIGNED_AT_QUOTE, aggressor_pts)
    aggressor_pts = np.where(contradicted & (agg != AGGRESSOR_UNKNOWN), AGGRESSOR_CONTRADICTED, aggressor_pts)
    aggressor_pts = np.where(agg == AGGRESSOR_UNKNOWN, 0, aggressor_pts).astype(np.int64)

    sweep_pts = np.where(sweep, caps["sweep"], 0).astype(np.int64)
    bias_pts = np.select([bias == BIAS_OPENING, bias == BIAS_CLOSING],
                         [OPENING_BIAS_POINTS[BIAS_OPENING], OPENING_BIAS_POINTS[BIAS_CLOSING]],
                         OPENING_BIAS_POINTS[BIAS_UNKNOWN]).astype(np.int64)
    dte_clean = np.where(np.isfinite(dte_arr), np.maximum(dte_arr, 0.0), np.inf)
    tenor_pts = _round_half_up(caps["tenor"] * np.exp(-dte_clean / TENOR_DECAY_DAYS))

    breakdown = {
        "premium": np.clip(premium_pts, 0, caps["premium"]),
        "size_vs_oi": np.clip(size_pts, 0, caps["size_vs_oi"]),
        "aggressor": np.clip(aggressor_pts, 0, caps["aggressor"]),
        "sweep": np.clip(sweep_pts, 0, caps["sweep"]),
        "opening_bias": np.clip(bias_pts, 0, caps["opening_bias"]),
        "tenor": np.clip(tenor_pts, 0, caps["tenor"]),
    }
    score = sum(breakdown.values())
    return np.asarray(score, dtype=np.int64), breakdown


def conviction(score: Any) -> np.ndarray:
    """Bucket scores: ``high`` if score >= 70, ``medium`` if >= 40, else ``low``."""
    s = _f64(score)
    return np.where(s >= CONVICTION_HIGH_MIN, "high", np.where(s >= CONVICTION_MEDIUM_MIN, "medium", "low"))


def golden_mask(score: Any) -> np.ndarray:
    """``golden``: score in the top decile of this response set and score >= 70.

    Top decile = score >= the k-th highest score, k = ceil(n / 10) (ties included).
    Compute it over the FINAL response set (after filters and limit)."""
    s = _f64(score)
    if s.size == 0:
        return np.zeros(0, dtype=bool)
    k = max(1, math.ceil(GOLDEN_TOP_FRACTION * s.size))
    threshold = np.sort(s)[::-1][k - 1]
    return (s >= threshold) & (s >= GOLDEN_MIN_SCORE)


def signal_tags(premium_usd: Any, is_sweep: Any, open_close_bias_code: Any, dte: Any,
                score_or_golden: Any) -> list[list[str]]:
    """Tags per signal, in order: sweep|block, opening|closing, 0dte (dte < 1), whale (premium >= $1M),
    golden. The last argument is either the scores of the FINAL response set (golden is then
    :func:`golden_mask` of them) or an already computed boolean golden mask."""
    premium = _f64(premium_usd)
    sweep = np.atleast_1d(np.asarray(is_sweep, dtype=bool))
    bias = _i64(open_close_bias_code)
    dte_arr = _f64(dte)
    last = np.atleast_1d(np.asarray(score_or_golden))
    golden = last if last.dtype == bool else golden_mask(last)
    tags: list[list[str]] = []
    for i in range(premium.size):  # building Python lists of strings is inherently per-signal
        t = ["sweep" if sweep[i] else "block"]
        if bias[i] == BIAS_OPENING:
            t.append("opening")
        elif bias[i] == BIAS_CLOSING:
            t.append("closing")
        if np.isfinite(dte_arr[i]) and dte_arr[i] < 1:
            t.append("0dte")
        if np.isfinite(premium[i]) and premium[i] >= WHALE_PREMIUM_USD:
            t.append("whale")
        if golden[i]:
            t.append("golden")
        tags.append(t)
    return tags


def _is_call(right: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(right))
    if arr.dtype == bool:
        return arr
    return np.char.upper(arr.astype(str)) == "C"


def signal_intent(right: Any, side_code: Any, open_close_bias_code: Any) -> np.ndarray:
    """Directional intent: ``bullish`` = buying calls or selling puts, ``bearish`` = buying puts or
    selling calls; ``neutral`` whenever the bias is closing_bias or the side is mid.

    ``right`` is "C"/"P" (or a bool is_call array); codes as exported in this module."""
    is_call = _is_call(right)
    side = _i64(side_code)
    bias = _i64(open_close_bias_code)
    bullish = (is_call & (side == SIDE_BUY)) | (~is_call & (side == SIDE_SELL))
    neutral = (bias == BIAS_CLOSING) | (side == SIDE_MID)
    return np.where(neutral, "neutral", np.where(bullish, "bullish", "bearish"))
