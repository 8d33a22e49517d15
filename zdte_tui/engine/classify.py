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
    aggr, side = aggressor_and_side(price, bid, ask)
    return aggr, side, quote_state(bid, ask)


def aggressor_and_side(price: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(aggressor, side) of :func:`classify_aggressor` without the quote state (the engine's path).

    Same rules, fewer passes: the four price tests (above/at the ask, at/below the bid) are computed
    once as masks and combined as ``2*above + at_ask - at_bid - 2*below`` wherever at most one holds
    (any spread wider than 2 eps); rows where several hold (narrow, locked or crossed quotes, float
    ties) get the rule's precedence below_bid > at_bid > at_ask > above_ask explicitly. The side of
    the mid prints is worked out on those prints only."""
    price = np.asarray(price, dtype=np.float64)
    ask = np.asarray(ask, dtype=np.float64)
    bid = np.fmax(np.asarray(bid, dtype=np.float64), 0.0)  # NaN or <= 0 -> 0: no bid
    if bid.max(initial=0.0) == np.inf:
        bid[bid == np.inf] = 0.0
    buf = ask + PRICE_EPS             # two float buffers reused throughout: buf, dist
    above = price > buf
    crossed = bid > buf
    dist = np.subtract(price, ask)
    np.abs(dist, out=dist)
    at_ask = dist <= PRICE_EPS
    np.subtract(price, bid, out=dist)
    np.abs(dist, out=dist)
    at_bid = dist <= PRICE_EPS
    np.subtract(bid, PRICE_EPS, out=dist)
    below = price < dist
    aggr = above.view(np.int8) * np.int8(2)
    aggr += at_ask.view(np.int8)
    aggr -= at_bid.view(np.int8)
    aggr -= below.view(np.int8) * np.int8(2)
    n_true = above.view(np.int8) + at_ask.view(np.int8)
    n_true += at_bid.view(np.int8)
    n_true += below.view(np.int8)
    several = np.flatnonzero(n_true > 1)
    if len(several):  # precedence: below_bid, then at_bid, then at_ask, then above_ask
        aggr[several] = np.where(below[several], BELOW_BID, np.where(
            at_bid[several], AT_BID, np.where(at_ask[several], AT_ASK, ABOVE_ASK)))
    # a locked quote (|bid - ask| <= eps, ask valid): a print at the lock is mid. |bid - ask| <= eps
    # needs ask - bid <= eps (the same float up to sign), so most batches skip the check
    spread = np.subtract(ask, bid, out=dist)
    lockable = spread <= PRICE_EPS
    if lockable.any():
        at_lock = np.flatnonzero(lockable & at_ask)
        locked = np.abs(bid[at_lock] - ask[at_lock]) <= PRICE_EPS
        aggr[at_lock[locked]] = MID
    side = np.sign(aggr)
    inside = aggr == MID
    if inside.any():  # buy above mid + MID_ZONE * spread + eps, sell below mid - (that), else mid
        threshold = np.multiply(spread, 0.5, out=dist)    # half the spread: 0.5 * (ask - bid)
        threshold *= MID_ZONE * 2                          # MID_ZONE * spread, as the rule writes it
        threshold += PRICE_EPS
        off = np.add(bid, ask, out=buf)
        off *= 0.5
        np.subtract(price, off, out=off)                   # price - mid
        buy = off > threshold
        np.negative(off, out=off)
        sell = off > threshold                             # -(price - mid) > t, i.e. price - mid < -t
        mid_side = buy.view(np.int8) - sell.view(np.int8)
        mid_side *= inside.view(np.int8)
        side += mid_side                                   # sign(aggr) is 0 on the mid prints
    all_ok = (len(ask) == 0 or (ask.min() > 0 and ask.max() < np.inf and price.min() > -np.inf
                                and price.max() < np.inf)) and not crossed.any()
    if not all_ok:  # unknown: ask not a finite number > 0, crossed (bid > ask + eps), price not finite
        bad = ask > 0               # (min/max are NaN when any value is)
        bad &= ask < np.inf
        bad &= ~crossed
        bad &= np.isfinite(price)
        np.logical_not(bad, out=bad)
        aggr[bad] = UNKNOWN
        side[bad] = 0
    return aggr, side


def contract_time_order(contract: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Permutation sorting events by (contract, time, input order)."""
    return contract_sort(contract, ts)[0]


SMALL_SORT = 16_384  # up to this many events a stable radix argsort costs fewer numpy calls
BLOCK = 32_768  # whole-batch passes over more events than this build their keys block by block


def contract_sort(contract: np.ndarray, ts: np.ndarray, *, time_sorted: bool | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(order, contract[order])``: the permutation sorting events by (contract, time, input order)
    and the contracts in that order (``time_sorted``: the caller knows ``ts`` is non-decreasing).

    Batches are time-sorted, so sorting by (contract, input position) suffices: a stable radix
    argsort of the contracts as uint16 for small batches; for large ones both are packed into one
    unsigned key ``contract << b | position`` (32 bits when they fit: 800 contracts and 4M events do),
    sorted by value (numpy's vectorized sort) and unpacked. Unsorted input or negative contracts fall
    back to a lexsort."""
    contract = np.asarray(contract)
    n = len(ts)
    if n == 0:
        return np.empty(0, dtype=np.intp), contract[:0].copy()
    if time_sorted is None:
        time_sorted = n == 1 or not (ts[1:] < ts[:-1]).any()
    lo, hi = int(contract.min()), int(contract.max())
    if time_sorted and lo >= 0 and hi < 65536 and n <= SMALL_SORT:
        order = np.argsort(contract.astype(np.uint16), kind="stable")
        return order, contract[order]
    pos_bits = max(1, (n - 1).bit_length())
    bits = pos_bits + max(1, hi.bit_length())
    if time_sorted and lo >= 0 and bits <= 64:
        kt = np.dtype(np.uint32 if bits <= 32 else np.uint64)
        shift = np.array(pos_bits, dtype=kt)
        key: np.ndarray = np.empty(n, dtype=kt)
        for a in range(0, n, BLOCK):  # (built block by block: no full-size temporaries)
            part = key[a: a + BLOCK]
            np.copyto(part, contract[a: a + BLOCK], casting="unsafe")
            part <<= shift
            part |= np.arange(a, a + len(part), dtype=kt)
        key.sort()
        order = np.empty(n, dtype=np.intp)
        np.bitwise_and(key, np.array((1 << pos_bits) - 1, dtype=kt), out=order, casting="unsafe")
        key >>= shift
        if key.itemsize == contract.itemsize and contract.dtype.kind == "i":  # (contracts >= 0: same values)
            return order, key.view(contract.dtype)
        return order, key.astype(contract.dtype)
    order = np.lexsort((np.arange(n), ts, contract))
    return order, contract[order]


def asof_source(trade_ts: np.ndarray, trade_contract: np.ndarray, quote_ts: np.ndarray,
                quote_contract: np.ndarray, *, quote_sort: tuple[np.ndarray, np.ndarray] | None = None,
                trade_sort: tuple[np.ndarray, np.ndarray] | None = None,
                trade_ts_sorted: np.ndarray | None = None, time_sorted: bool = False) -> np.ndarray:
    """Where each trade's NBBO comes from, as an index into ``quotes ++ prior``: the quote in force
    (the latest quote of the same contract with ts <= trade ts, the last in input order among
    equal ts), else ``len(quote_ts) + contract`` (the prior state of the contract).

    ``quote_sort``/``trade_sort`` are :func:`contract_sort` results when the caller has them,
    ``trade_ts_sorted`` the trade times in the trade sort's order, ``time_sorted`` that both time
    columns are non-decreasing. Vectorized as one searchsorted of the trades' composite keys
    ``contract * span + (ts - t0)`` (sorted) into the quotes' (:func:`asof_index`)."""
    src, prior = asof_index(trade_ts, trade_contract, quote_ts, quote_contract, quote_sort=quote_sort,
                            trade_sort=trade_sort, trade_ts_sorted=trade_ts_sorted, time_sorted=time_sorted)
    src[prior] = np.asarray(trade_contract, dtype=np.intp)[prior] + len(quote_ts)
    return src


def asof_index(trade_ts: np.ndarray, trade_contract: np.ndarray, quote_ts: np.ndarray,
               quote_contract: np.ndarray, *, quote_sort: tuple[np.ndarray, np.ndarray] | None = None,
               trade_sort: tuple[np.ndarray, np.ndarray] | None = None,
               trade_ts_sorted: np.ndarray | None = None, time_sorted: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(src, prior)``: the quote in force at each trade as an index into the batch's quotes, and the
    (ascending) positions of the trades that have none in the batch and take the prior state instead
    (their ``src`` is a valid index of no meaning). Arguments as :func:`asof_source`.

    In (contract, time) order the quote in force is the last quote whose key (contract, ts) is <= the
    trade's: one searchsorted of the trades' composite keys ``contract * span + (ts - t0)`` (sorted)
    into the quotes' (``contract * span + ts`` when that cannot overflow: the same order). Over
    ``BLOCK`` events the keys are built, and the trades searched, block by block."""
    n, n_q = len(trade_ts), len(quote_ts)
    if n_q == 0 or n == 0:
        return np.zeros(n, dtype=np.intp), np.arange(n, dtype=np.intp)
    q_order, q_cs = contract_sort(quote_contract, quote_ts) if quote_sort is None else quote_sort
    t_order, t_cs = contract_sort(trade_contract, trade_ts) if trade_sort is None else trade_sort
    ts_t = trade_ts[t_order] if trade_ts_sorted is None else trade_ts_sorted
    if time_sorted:
        t0, t1 = min(int(quote_ts[0]), int(trade_ts[0])), max(int(quote_ts[-1]), int(trade_ts[-1]))
    else:
        t0, t1 = min(int(quote_ts.min()), int(trade_ts.min())), max(int(quote_ts.max()), int(trade_ts.max()))
    span = t1 - t0 + 1
    n_c = max(int(q_cs[-1]), int(t_cs[-1])) + 1  # (sorted by contract)
    unit = 1 if n_c * span < (1 << 62) else -(-(n_c * span) // (1 << 62))  # coarser time only if needed
    span_u = span // unit + 1
    direct = unit == 1 and t0 >= 0 and t1 + n_c * span_u < 2**63  # contract * span_u + ts: no overflow

    def keys(cs: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Composite keys of one block: contract * span_u + (ts - t0) // unit (or + ts: same order)."""
        k = np.multiply(cs, span_u, dtype=np.int64)
        if direct:
            k += ts
        elif unit == 1:
            k += ts
            k -= t0
        else:
            k += (ts - t0) // unit
        return k

    if n_q <= BLOCK:
        q_keys = keys(q_cs, quote_ts.take(q_order))
    else:
        q_keys = np.empty(n_q, dtype=np.int64)
        for a in range(0, n_q, BLOCK):  # (block by block: no full-size temporaries)
            q_keys[a: a + BLOCK] = keys(q_cs[a: a + BLOCK], quote_ts.take(q_order[a: a + BLOCK]))
    src = np.empty(n, dtype=np.intp)
    prior = []
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        cs, at = (t_cs, t_order) if n <= BLOCK else (t_cs[a:b], t_order[a:b])
        pos = np.searchsorted(q_keys, keys(cs, ts_t if n <= BLOCK else ts_t[a:b]), side="right")
        pos -= 1  # the last quote not after the trade, if it is of the trade's contract
        miss = q_cs.take(pos, mode="clip") != cs
        miss |= pos < 0
        src[at] = q_order.take(pos, mode="clip")
        if miss.any():
            prior.append(at[miss])
    if not prior:
        return src, np.empty(0, dtype=np.intp)
    prior_at = prior[0] if len(prior) == 1 else np.concatenate(prior)
    prior_at.sort()
    return src, prior_at


def asof_quotes(trade_ts: np.ndarray, trade_contract: np.ndarray, quote_ts: np.ndarray,
                quote_contract: np.ndarray, quote_bid: np.ndarray, quote_ask: np.ndarray,
                prior_bid: np.ndarray, prior_ask: np.ndarray, *, quote_order: np.ndarray | None = None,
                trade_order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """NBBO in force at each trade: the latest quote of the same contract with ts <= trade ts
    (quotes apply before trades at equal timestamps), else the prior state ``prior_bid/ask[contract]``
    (see :func:`asof_source`; new arrays, never views of the prior state)."""
    q_sort = None if quote_order is None else (quote_order, quote_contract[quote_order])
    t_sort = None if trade_order is None else (trade_order, trade_contract[trade_order])
    src = asof_source(trade_ts, trade_contract, quote_ts, quote_contract, quote_sort=q_sort, trade_sort=t_sort)
    bid = np.concatenate([np.asarray(quote_bid, dtype=np.float64), prior_bid]).take(src)
    ask = np.concatenate([np.asarray(quote_ask, dtype=np.float64), prior_ask]).take(src)
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
    srt = contract_sort(contract, ts_ns) if order is None else (order, contract[order])
    gid, lengths, joined_runs = _sweep_runs(ts_ns[srt[0]], srt[1], side[srt[0]], window_ns, prev_ts, prev_side,
                                            prev_group, first_id, srt[0])
    joined = np.empty(n, dtype=bool)
    joined[srt[0]] = np.repeat(joined_runs, lengths)
    size = np.empty(n, dtype=np.int64)
    size[srt[0]] = np.repeat(lengths, lengths)
    return gid, joined, size


def sweep_group_ids(ts_sorted: np.ndarray, contract_sorted: np.ndarray, side: np.ndarray, window_ns: int,
                    prev_ts: np.ndarray, prev_side: np.ndarray, prev_group: np.ndarray, first_id: int,
                    order: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The group ids of :func:`sweep_groups` alone (the engine's path), from the batch already sorted
    by (contract, time): ``order`` from :func:`contract_sort`, ``contract_sorted`` and ``ts_sorted``
    the contracts and times in that order, ``side`` in input order. int32 when every id fits, written
    into ``out`` (and returned) when it is given with that dtype."""
    if len(order) == 0:
        return np.empty(0, dtype=np.int64)
    fits = first_id + len(order) < 2**31 and int(prev_group.max(initial=-1)) < 2**31
    return _sweep_runs(ts_sorted, contract_sorted, side.take(order), window_ns, prev_ts, prev_side, prev_group,
                       first_id, order, np.int32 if fits else np.int64, out)[0]


def _sweep_runs(t: np.ndarray, c: np.ndarray, s: np.ndarray, window_ns: int, prev_ts: np.ndarray,
                prev_side: np.ndarray, prev_group: np.ndarray, first_id: int, order: np.ndarray,
                dtype: type = np.int64, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups of a non-empty batch in (contract, time) order (``t``, ``c``, ``s`` sorted by ``order``):
    (group id per print in input order, length of each run, whether each run continues a group of
    an earlier batch). A run breaks at a new contract, a change of side, a side-mid print or a gap
    over the window; only each contract's first print can continue the previous batch's group."""
    n = len(t)
    starts = np.empty(n, dtype=bool)   # where a run starts; then where a contract starts
    starts[0] = True
    new_contract = np.not_equal(c[1:], c[:-1], out=starts[1:])
    chained = s[1:] == s[:-1]
    chained &= s[1:] != 0
    chained &= (t[1:] - t[:-1]) <= window_ns
    chained &= ~new_contract
    first = np.flatnonzero(starts)   # each contract's first print
    np.logical_not(chained, out=starts[1:])
    run_start = np.flatnonzero(starts)
    fc, fs, ft = c[first], s[first], t[first]
    pt = prev_ts[fc]
    link = fs != 0
    link &= prev_group[fc] >= 0
    link &= prev_side[fc] == fs
    link &= ft - pt <= window_ns
    link &= ft >= pt
    run_ids: np.ndarray = order[run_start].astype(dtype)
    run_ids += first_id
    linked_runs = np.searchsorted(run_start, first[link])  # a contract's first print starts a run
    run_ids[linked_runs] = prev_group[fc[link]]
    lengths = np.empty(len(run_start), dtype=np.intp)
    np.subtract(run_start[1:], run_start[:-1], out=lengths[:-1])
    lengths[-1] = n - run_start[-1]
    gid: np.ndarray = out if out is not None and out.dtype == dtype and len(out) == n else np.empty(n, dtype=dtype)
    gid[order] = np.repeat(run_ids, lengths)
    joined_runs = np.zeros(len(run_start), dtype=bool)
    joined_runs[linked_runs] = True
    return gid, lengths, joined_runs
