"""Trade classification against the NBBO in force at the trade: aggressor, side, sweep, block.

Codes (shared with :mod:`zdte_tui.engine.scoring`):
aggressor 2 above_ask, 1 at_ask, 0 mid, -1 at_bid, -2 below_bid, -9 unknown;
side +1 buy, -1 sell, 0 mid (or unattributable);
quote state 0 ok, 1 missing, 2 crossed, 3 locked.
"""

from __future__ import annotations

import numpy as np

ABOVE_ASK, AT_ASK, MID, AT_BID, BELOW_BID, UNKNOWN = 2, 1, 0, -1, -2, -9
AGGRESSOR_LABELS = {ABOVE_ASK: "above_ask", AT_ASK: "at_ask", MID: "mid", AT_BID: "at_bid",
                    BELOW_BID: "below_bid", UNKNOWN: "unknown"}
SIDE_LABELS = {1: "buy", -1: "sell", 0: "mid"}
QUOTE_OK, QUOTE_MISSING, QUOTE_CROSSED, QUOTE_LOCKED = 0, 1, 2, 3

PRICE_EPS = 1e-6  # dollars: prices within this of a quote side count as "at" it
MID_ZONE = 0.25   # inside the spread, |price - mid| <= MID_ZONE * spread is side "mid"


def quote_state(bid: np.ndarray, ask: np.ndarray) -> np.ndarray:
    """0 ok, 1 missing (ask not a positive finite number), 2 crossed (bid > ask), 3 locked (bid == ask).

    A bid that is NaN or <= 0 means "no bid" and is treated as 0 (valid one-sided quote)."""
    bid = np.where(np.isfinite(bid) & (bid > 0), bid, 0.0)
    state = np.zeros(np.shape(ask), dtype=np.int8)
    missing = ~(np.isfinite(ask) & (ask > 0))
    state[(bid > ask + PRICE_EPS) & ~missing] = QUOTE_CROSSED
    state[(np.abs(bid - ask) <= PRICE_EPS) & ~missing] = QUOTE_LOCKED
    state[missing] = QUOTE_MISSING
    return state


def classify_aggressor(price: np.ndarray, bid: np.ndarray,
                       ask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label each print against the NBBO in force: returns (aggressor, side, quote_state) int8 arrays.

    above_ask: price > ask; at_ask: price == ask; below_bid: price < bid; at_bid: price == bid;
    mid: strictly inside the spread, side buy/sell by which side of the midpoint it printed on,
    side mid within +-MID_ZONE*spread of the midpoint. Missing or crossed quotes give
    aggressor unknown and side mid (no attribution). Locked quotes: at the lock is mid.
    """
    price = np.asarray(price, dtype=np.float64)
    bid = np.where(np.isfinite(bid) & (bid > 0), bid, 0.0).astype(np.float64)
    ask = np.asarray(ask, dtype=np.float64)
    state = quote_state(bid, ask)
    aggr = np.full(price.shape, MID, dtype=np.int8)
    aggr[price > ask + PRICE_EPS] = ABOVE_ASK
    aggr[np.abs(price - ask) <= PRICE_EPS] = AT_ASK
    aggr[np.abs(price - bid) <= PRICE_EPS] = AT_BID
    aggr[price < bid - PRICE_EPS] = BELOW_BID
    locked = state == QUOTE_LOCKED
    aggr[locked & (np.abs(price - ask) <= PRICE_EPS)] = MID
    side = np.sign(aggr).astype(np.int8)
    inside = aggr == MID
    mid = 0.5 * (bid + ask)
    half = 0.5 * (ask - bid)
    off = price - mid
    side[inside & (off > MID_ZONE * 2 * half + PRICE_EPS)] = 1
    side[inside & (off < -MID_ZONE * 2 * half - PRICE_EPS)] = -1
    bad = (state == QUOTE_MISSING) | (state == QUOTE_CROSSED) | ~np.isfinite(price)
    aggr[bad] = UNKNOWN
    side[bad] = 0
    return aggr, side, state


def contract_time_order(contract: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Permutation sorting events by (contract, time, input order).

    Batches are time-sorted, so a *stable* sort on the contract alone suffices, and with fewer than
    65,536 contracts numpy does it as a radix sort on uint16 keys (linear time). Unsorted input
    falls back to a lexsort."""
    n = len(ts)
    if n > 1 and np.any(ts[1:] < ts[:-1]):
        return np.lexsort((np.arange(n), ts, contract))
    if n and int(contract.max()) < 65536 and int(contract.min()) >= 0:
        return np.argsort(contract.astype(np.uint16), kind="stable")
    return np.argsort(contract, kind="stable")


def asof_quotes(trade_ts: np.ndarray, trade_contract: np.ndarray, quote_ts: np.ndarray,
                quote_contract: np.ndarray, quote_bid: np.ndarray, quote_ask: np.ndarray,
                prior_bid: np.ndarray, prior_ask: np.ndarray, *, quote_order: np.ndarray | None = None,
                trade_order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """NBBO in force at each trade: the latest quote of the same contract with ts <= trade ts
    (quotes apply before trades at equal timestamps), else the prior state ``prior_bid/ask[contract]``.

    Vectorized as one searchsorted on composite keys contract * span + (ts - t0): exact in ns for any
    batch shorter than ~2^62 / n_contracts ns (months).
    """
    bid = prior_bid[trade_contract]
    ask = prior_ask[trade_contract]
    if len(quote_ts) == 0 or len(trade_ts) == 0:
        return bid, ask
    t0 = min(int(quote_ts.min()), int(trade_ts.min()))
    span = max(int(quote_ts.max()), int(trade_ts.max())) - t0 + 1
    n_c = int(max(quote_contract.max(), trade_contract.max())) + 1
    unit = 1 if n_c * span < (1 << 62) else -(-(n_c * span) // (1 << 62))  # coarser time only if needed
    span_u = span // unit + 1
    order = contract_time_order(quote_contract, quote_ts) if quote_order is None else quote_order
    qk = quote_contract[order].astype(np.int64) * span_u + (quote_ts[order] - t0) // unit
    tk = trade_contract.astype(np.int64) * span_u + (trade_ts - t0) // unit
    t_order = contract_time_order(trade_contract, trade_ts) if trade_order is None else trade_order  # sorted needles
    idx = np.empty(len(tk), dtype=np.int64)
    idx[t_order] = np.searchsorted(qk, tk[t_order], side="right") - 1
    hit = idx >= 0
    hit[hit] = quote_contract[order[idx[hit]]] == trade_contract[hit]
    src = order[idx[hit]]
    bid = bid.copy()
    ask = ask.copy()
    bid[hit] = quote_bid[src]
    ask[hit] = quote_ask[src]
    return bid, ask


def last_per_contract(contract: np.ndarray, ts: np.ndarray, order: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the last event (by ts, then input order) of each contract present: (contracts, index)."""
    order = contract_time_order(contract, ts) if order is None else order
    c = contract[order]
    last = np.ones(len(c), dtype=bool)
    last[:-1] = c[1:] != c[:-1]
    return c[last], order[last]


def sweep_groups(ts_ns: np.ndarray, contract: np.ndarray, side: np.ndarray, window_ns: int,
                 prev_ts: np.ndarray, prev_side: np.ndarray, prev_group: np.ndarray,
                 first_id: int, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chain same-side prints on one contract no more than ``window_ns`` apart into groups.

    A group of >= 2 prints is a sweep. ``prev_*[contract]`` carry each contract's last print
    from earlier batches (ts, side, group id; group -1 = none) so sweeps span batch
    boundaries. New groups get ids ``first_id + position`` of their first print in input order
    (callers use the trade-log index). Returns (group_id int64, joined_prev bool per print,
    group_size_in_batch int64 per print).
    Invariant to the order of trades on other contracts (stable sort by contract, time).
    """
    n = len(ts_ns)
    if n == 0:
        e = np.empty(0, dtype=np.int64)
        return e, np.empty(0, dtype=bool), e
    order = contract_time_order(contract, ts_ns) if order is None else order
    c, t, s = contract[order], ts_ns[order], side[order]
    brk = np.ones(n, dtype=bool)
    same_c = c[1:] == c[:-1]
    brk[1:] = ~(same_c & (s[1:] == s[:-1]) & (s[1:] != 0) & (t[1:] - t[:-1] <= window_ns))
    first_of_contract = np.ones(n, dtype=bool)
    first_of_contract[1:] = ~same_c
    link_prev = (first_of_contract & (s != 0) & (prev_group[c] >= 0) & (prev_side[c] == s)
                 & (t - prev_ts[c] <= window_ns) & (t >= prev_ts[c]))
    run = np.cumsum(brk) - 1
    run_start = np.flatnonzero(brk)
    linked_runs = run[link_prev]
    linked_prev_ids = prev_group[c[link_prev]]
    run_ids = first_id + order[run_start]
    run_ids[linked_runs] = linked_prev_ids
    gid_sorted = run_ids[run]
    counts = np.bincount(run, minlength=len(run_start))
    group_size = counts[run]
    joined = np.zeros(n, dtype=bool)
    joined_runs = np.zeros(len(run_start), dtype=bool)
    joined_runs[linked_runs] = True
    joined_sorted = joined_runs[run]
    gid = np.empty(n, dtype=np.int64)
    gid[order] = gid_sorted
    joined[order] = joined_sorted
    size = np.empty(n, dtype=np.int64)
    size[order] = group_size
    return gid, joined, size
