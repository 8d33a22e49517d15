"""Effective open interest: settled OI plus an intraday OI-change estimate from classified volume.

Model (docs/model.md, "Effective open interest"): each print of ``n`` contracts changes OI by
``n * (2 * p_open - 1)`` in expectation, where ``p_open`` is the probability that the print
opens a position on both sides net of closes. ``p_open`` falls linearly over the session
(0DTE books are opened in the morning and unwound into the close), is nudged up for prints at
or through the quote (urgent customer flow is more often new risk), and pulled toward 0.5 for
mid prints (more often transfers). Closes cannot exceed the open interest there is: the
running estimate is floored at ``-settled_oi`` so effective OI is never negative.
"""

from __future__ import annotations

import numpy as np

BIAS_OPENING, BIAS_UNKNOWN, BIAS_CLOSING = 1, 0, -1
BIAS_LABELS = {BIAS_OPENING: "opening_bias", BIAS_UNKNOWN: "unknown", BIAS_CLOSING: "closing_bias"}


def open_probability(session_fraction: np.ndarray, aggressor: np.ndarray, *, p_open_at_open: float,
                     p_open_at_close: float, aggressor_boost: float, mid_shrink: float) -> np.ndarray:
    """P(print opens) = lerp(p_open_at_open, p_open_at_close, session_fraction)
    + aggressor_boost if the print is at/through the quote (|aggressor| >= 1),
    then mid prints (aggressor 0) and unknowns are pulled toward 0.5 by ``mid_shrink``; clipped to [0.02, 0.98].
    ``session_fraction`` is 0 at the open and 1 at the close.
    """
    aggressor = np.asarray(aggressor)
    f = np.asarray(session_fraction, dtype=np.float64)
    shape = f.shape
    if f.ndim != 1 or aggressor.shape != shape:  # (the engine's case, equal 1-D shapes, skips this)
        shape = np.broadcast_shapes(f.shape, aggressor.shape)
        f = np.broadcast_to(f, shape).ravel()
        aggressor = np.broadcast_to(aggressor, shape).ravel()
    p = np.clip(f, 0.0, 1.0)  # a new array, worked on in place below
    p *= p_open_at_close - p_open_at_open
    p += p_open_at_open
    weak = np.abs(aggressor) < 1  # mid prints
    weak |= aggressor == -9       # and unknowns
    w = np.flatnonzero(weak)
    pw = p[w]
    pw += (0.5 - pw) * mid_shrink
    p += aggressor_boost
    p[w] = pw
    return np.clip(p, 0.02, 0.98, out=p).reshape(shape)


def expected_oi_change(size: np.ndarray, p_open: np.ndarray) -> np.ndarray:
    """E[dOI] per print = size * (2 p_open - 1) contracts (opening both sides +size, closing -size)."""
    return size * (2.0 * p_open - 1.0)


def floored_oi_path(oi_start: np.ndarray, contract: np.ndarray, ts_ns: np.ndarray, slot: np.ndarray,
                    d_oi: np.ndarray, n_slots: int, order: np.ndarray | None = None,
                    contract_sorted: np.ndarray | None = None) -> np.ndarray:
    """Effective OI after each of ``n_slots`` consecutive slices, floored print by print.

    Per contract, in time order: y_i = max(y_{i-1} + d_i, 0) with y_0 = ``oi_start`` (a Lindley
    recursion, solved in closed form: y = W - min(0, running min of W), W the running sum), so a
    close never removes open interest that is not there, however the stream is cut into batches.
    ``slot[i]`` is the slice of print i; returns ``[n_slots, n_contracts]`` (contracts without prints
    in a slice carry their previous value). ``order``/``contract_sorted``: the batch's
    (contract, time) order and its contracts (``classify.contract_sort``) when the caller has them.

    A contract whose start plus all its negative changes stays >= 0 can never reach the floor: its
    path is the plain running sum, done with one bincount on (slice, contract) keys; only the other
    contracts' prints go through the sorted walk.
    """
    from zdte_tui.engine.classify import contract_sort

    n = len(oi_start)
    contract = np.asarray(contract)
    d = np.asarray(d_oi, dtype=np.float64)
    if not len(d):
        return np.broadcast_to(np.asarray(oi_start, dtype=np.float64), (n_slots, n)).copy()
    c_ip = contract.astype(np.intp)
    lowest = oi_start + np.bincount(c_ip, weights=np.minimum(d, 0.0), minlength=n)
    may_floor = lowest < 0.0
    if n_slots == 1:
        sums = np.bincount(c_ip, weights=d, minlength=n)[None, :]
    else:
        keys = np.asarray(slot, dtype=np.intp) * n
        keys += c_ip
        sums = np.bincount(keys, weights=d, minlength=n_slots * n).reshape(n_slots, n)
    rows = oi_start + np.cumsum(sums, axis=0)
    if not may_floor.any():
        return rows
    if order is None:
        order, contract_sorted = contract_sort(contract, ts_ns)
    elif contract_sorted is None:
        contract_sorted = contract[order]
    pick = may_floor[contract_sorted]
    order, cs = order[pick], contract_sorted[pick]
    ds, sl = d[order], np.asarray(slot)[order]
    first = np.ones(len(cs), dtype=bool)
    first[1:] = cs[1:] != cs[:-1]
    g = np.cumsum(first) - 1
    cum = np.cumsum(ds)
    starts = np.flatnonzero(first)
    walk = oi_start[cs] + cum - (cum[starts] - ds[starts])[g]
    big = 4.0 * (float(np.abs(walk).max()) + float(np.abs(oi_start).max(initial=0.0)) + 1.0)
    running_min = np.minimum.accumulate(walk - g * big) + g * big  # restarts at each contract
    y = np.maximum(walk - np.minimum(0.0, running_min), 0.0)  # (clip float residue of the offsets)
    floored = np.full((n_slots + 1, n), np.nan)
    floored[0] = oi_start
    key = sl.astype(np.int64) * n + cs
    last = np.ones(len(key), dtype=bool)
    last[:-1] = key[1:] != key[:-1]
    floored[sl[last] + 1, cs[last]] = y[last]
    filled = np.where(np.isfinite(floored), np.arange(n_slots + 1)[:, None], 0)
    np.maximum.accumulate(filled, axis=0, out=filled)
    floored = floored[filled, np.arange(n)][1:]
    rows[:, may_floor] = floored[:, may_floor]
    return rows


def effective_oi(settled_oi: np.ndarray, net_oi_delta: np.ndarray) -> np.ndarray:
    """Effective OI = max(0, settled + net intraday delta), contracts (float)."""
    return np.maximum(settled_oi + net_oi_delta, 0.0)


def open_close_bias(net_oi_delta: np.ndarray, volume: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Contract-level bias and confidence.

    bias = opening (+1) if delta > threshold * volume, closing (-1) if delta < -threshold * volume,
    else unknown (0). confidence = min(1, |delta| / volume) * (1 - exp(-volume / 50)):
    how one-sided the estimate is, discounted for thin volume. 0 where no volume.
    """
    vol = np.asarray(volume, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(vol > 0, net_oi_delta / np.maximum(vol, 1e-12), 0.0)
    bias = np.zeros(len(vol), dtype=np.int8)
    bias[ratio > threshold] = BIAS_OPENING
    bias[ratio < -threshold] = BIAS_CLOSING
    conf = np.minimum(1.0, np.abs(ratio)) * (1.0 - np.exp(-vol / 50.0))
    return bias, conf
