"""Specification of zdte_tui.engine.classify: aggressor and side against the NBBO in force,
quote states, the as-of NBBO join and sweep grouping (docs/model.md, "Trade classification").

Order: hand-made NBBO cases, then the as-of join, then sweeps, then hypothesis properties.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.engine.classify import (
    ABOVE_ASK,
    AT_ASK,
    AT_BID,
    BELOW_BID,
    MID,
    MID_ZONE,
    PRICE_EPS,
    QUOTE_CROSSED,
    QUOTE_LOCKED,
    QUOTE_MISSING,
    QUOTE_OK,
    UNKNOWN,
    aggressor_and_side,
    asof_index,
    asof_quotes,
    classify_aggressor,
    contract_sort,
    contract_time_order,
    last_per_contract,
    quote_state,
    sweep_group_ids,
    sweep_groups,
)

from .conftest import PROPERTY

MS = 1_000_000
WINDOW_NS = 500 * MS
NAN = float("nan")


def classify_one(price: float, bid: float, ask: float) -> tuple[int, int, int]:
    aggr, side, state = classify_aggressor(np.array([price]), np.array([bid]), np.array([ask]))
    return int(aggr[0]), int(side[0]), int(state[0])


# --------------------------------------------------------------------------- aggressor labels
# NBBO 1.00 x 1.20: spread 0.20, midpoint 1.10, side-mid zone 1.10 +- 0.05.
@pytest.mark.parametrize("price, aggressor, side", [
    (1.25, ABOVE_ASK, +1),
    (1.20, AT_ASK, +1),
    (1.10, MID, 0),
    (1.00, AT_BID, -1),
    (0.95, BELOW_BID, -1),
])
def test_each_aggressor_label_on_a_hand_made_nbbo(price, aggressor, side):
    assert classify_one(price, 1.00, 1.20) == (aggressor, side, QUOTE_OK)


@pytest.mark.parametrize("price, side", [
    (1.19, +1),   # inside, 0.09 above the midpoint: buy-side mid print
    (1.16, +1),   # 0.06 above: beyond MID_ZONE * spread = 0.05
    (1.14, 0),    # 0.04 above: inside the mid zone
    (1.10, 0),
    (1.06, 0),
    (1.04, -1),   # 0.06 below: sell side
    (1.01, -1),
])
def test_prints_inside_the_spread_are_mid_with_side_by_distance_from_midpoint(price, side):
    assert MID_ZONE == 0.25
    assert classify_one(price, 1.00, 1.20) == (MID, side, QUOTE_OK)


def test_print_exactly_on_the_mid_zone_edge_is_side_mid():
    bid, ask = 2.00, 3.00  # zone = 0.25 * 1.00 around 2.50, exactly representable
    assert classify_one(2.75, bid, ask)[1] == 0
    assert classify_one(2.25, bid, ask)[1] == 0
    assert classify_one(2.76, bid, ask)[1] == +1
    assert classify_one(2.24, bid, ask)[1] == -1


@pytest.mark.parametrize("bid, ask, state", [
    (1.00, 1.20, QUOTE_OK),
    (0.00, 0.05, QUOTE_OK),        # no bid: a valid one-sided quote
    (NAN, 0.05, QUOTE_OK),         # NaN bid means no bid too
    (-1.0, 0.05, QUOTE_OK),
    (1.00, NAN, QUOTE_MISSING),
    (1.00, 0.0, QUOTE_MISSING),
    (NAN, NAN, QUOTE_MISSING),
    (1.00, float("inf"), QUOTE_MISSING),
    (1.30, 1.20, QUOTE_CROSSED),
    (1.20, 1.20, QUOTE_LOCKED),
])
def test_quote_state(bid, ask, state):
    assert int(quote_state(np.array([bid]), np.array([ask]))[0]) == state


@pytest.mark.parametrize("bid, ask", [(1.00, NAN), (1.00, 0.0), (NAN, NAN), (1.30, 1.20)])
def test_missing_or_crossed_quote_gives_unknown_aggressor_and_no_side(bid, ask):
    for price in (0.5, 1.0, 1.2, 1.25, 2.0):
        aggr, side, state = classify_one(price, bid, ask)
        assert (aggr, side) == (UNKNOWN, 0)
        assert state in (QUOTE_MISSING, QUOTE_CROSSED)


@pytest.mark.parametrize("price, aggressor, side", [
    (1.20, MID, 0),            # at the lock: nobody crossed a spread
    (1.25, ABOVE_ASK, +1),
    (1.15, BELOW_BID, -1),
])
def test_locked_quote(price, aggressor, side):
    assert classify_one(price, 1.20, 1.20) == (aggressor, side, QUOTE_LOCKED)


def test_one_sided_quote_without_bid_still_classifies_against_the_ask():
    assert classify_one(0.05, 0.0, 0.05) == (AT_ASK, +1, QUOTE_OK)
    assert classify_one(0.06, NAN, 0.05) == (ABOVE_ASK, +1, QUOTE_OK)
    assert classify_one(0.00, 0.0, 0.05) == (AT_BID, -1, QUOTE_OK)  # a zero print meets the implied 0 bid


def test_nan_price_is_unknown():
    assert classify_one(NAN, 1.00, 1.20)[:2] == (UNKNOWN, 0)


def test_prices_within_price_eps_of_a_side_count_as_at_it():
    assert classify_one(1.20 + 5e-7, 1.00, 1.20)[0] == AT_ASK
    assert classify_one(1.00 - 5e-7, 1.00, 1.20)[0] == AT_BID
    assert classify_one(1.20 + 2e-6, 1.00, 1.20)[0] == ABOVE_ASK


# --------------------------------------------------------------------------- as-of NBBO join
def test_asof_join_picks_the_quote_in_force_per_contract():
    prior_bid = np.array([1.00, 5.00, NAN])
    prior_ask = np.array([1.20, 5.50, NAN])
    q_ts = np.array([10, 15, 20], dtype=np.int64)
    q_c = np.array([0, 1, 0], dtype=np.int32)
    q_bid = np.array([1.10, 6.00, 1.20])
    q_ask = np.array([1.30, 6.50, 1.40])
    t_ts = np.array([5, 10, 12, 15, 25, 30], dtype=np.int64)
    t_c = np.array([0, 0, 1, 0, 0, 2], dtype=np.int32)
    bid, ask = asof_quotes(t_ts, t_c, q_ts, q_c, q_bid, q_ask, prior_bid, prior_ask)
    expected = [
        (1.00, 1.20),  # before any quote of contract 0 in the batch: prior state
        (1.10, 1.30),  # a quote at the same ts applies before the trade
        (5.00, 5.50),  # contract 1 before its own quote: prior state
        (1.10, 1.30),  # contract 1's quote at ts 15 is ignored for contract 0
        (1.20, 1.40),  # latest quote of contract 0 at or before ts 25
        (NAN, NAN),    # never quoted: prior state is "missing"
    ]
    np.testing.assert_array_equal(np.c_[bid, ask], np.array(expected))


def test_asof_join_with_no_quotes_returns_prior_state_and_does_not_alias_it():
    prior_bid, prior_ask = np.array([1.0, 2.0]), np.array([1.1, 2.1])
    e64, e32 = np.empty(0, np.int64), np.empty(0, np.int32)
    bid, ask = asof_quotes(np.array([1, 2]), np.array([1, 0], np.int32), e64, e32, np.empty(0), np.empty(0),
                           prior_bid, prior_ask)
    np.testing.assert_array_equal(bid, [2.0, 1.0])
    np.testing.assert_array_equal(ask, [2.1, 1.1])


def test_asof_join_over_a_slice_longer_than_18_minutes_uses_microsecond_keys():
    t0 = 1_773_000_000 * 10**9
    hour = 3600 * 10**9
    q_ts = np.array([t0, t0 + hour], dtype=np.int64)
    q_c = np.array([0, 0], dtype=np.int32)
    t_ts = np.array([t0 + hour - 1_000, t0 + hour, t0 + 2 * hour], dtype=np.int64)
    t_c = np.zeros(3, dtype=np.int32)
    bid, _ = asof_quotes(t_ts, t_c, q_ts, q_c, np.array([1.0, 2.0]), np.array([1.1, 2.1]),
                         np.array([0.5]), np.array([0.6]))
    np.testing.assert_array_equal(bid, [1.0, 2.0, 2.0])


def _asof_reference(t_ts, t_c, q_ts, q_c, q_bid, q_ask, prior_bid, prior_ask):
    """One trade at a time: the last quote (input order among equal ts) of the contract with ts <= trade ts."""
    out_b, out_a = [], []
    for ts, c in zip(t_ts, t_c):
        b, a = prior_bid[c], prior_ask[c]
        for qt, qc, qb, qa in zip(q_ts, q_c, q_bid, q_ask):
            if qc == c and qt <= ts:
                b, a = qb, qa
        out_b.append(b)
        out_a.append(a)
    return np.array(out_b), np.array(out_a)


@st.composite
def quote_and_trade_streams(draw, n_contracts=4):
    n_q = draw(st.integers(0, 25))
    n_t = draw(st.integers(1, 25))
    q_ts = np.sort(np.array(draw(st.lists(st.integers(0, 40), min_size=n_q, max_size=n_q)), dtype=np.int64))
    t_ts = np.sort(np.array(draw(st.lists(st.integers(0, 40), min_size=n_t, max_size=n_t)), dtype=np.int64))
    q_c = np.array(draw(st.lists(st.integers(0, n_contracts - 1), min_size=n_q, max_size=n_q)), dtype=np.int32)
    t_c = np.array(draw(st.lists(st.integers(0, n_contracts - 1), min_size=n_t, max_size=n_t)), dtype=np.int32)
    q_bid = np.arange(n_q, dtype=np.float64) + 1.0   # distinct values identify the quote used
    q_ask = q_bid + 0.5
    prior_bid = -np.arange(n_contracts, dtype=np.float64) - 1.0
    prior_ask = prior_bid + 0.25
    return t_ts, t_c, q_ts, q_c, q_bid, q_ask, prior_bid, prior_ask


@PROPERTY
@given(quote_and_trade_streams())
def test_asof_join_matches_a_one_trade_at_a_time_reference(streams):
    got_b, got_a = asof_quotes(*streams)
    ref_b, ref_a = _asof_reference(*streams)
    np.testing.assert_array_equal(got_b, ref_b)
    np.testing.assert_array_equal(got_a, ref_a)


@PROPERTY
@given(quote_and_trade_streams())
def test_asof_index_names_the_quote_in_force_or_the_prints_on_the_prior_state(streams):
    t_ts, t_c, q_ts, q_c, q_bid, q_ask, prior_bid, prior_ask = streams
    src, prior = asof_index(t_ts, t_c, q_ts, q_c)
    ref_b, _ = _asof_reference(*streams)
    got = q_bid[src] if len(q_bid) else np.full(len(t_ts), NAN)
    got[prior] = prior_bid[t_c[prior]]
    np.testing.assert_array_equal(got, ref_b)
    assert np.all(np.diff(prior) > 0)


def test_last_per_contract_takes_latest_ts_then_latest_input_position():
    contract = np.array([2, 0, 2, 0, 2], dtype=np.int32)
    ts = np.array([5, 1, 5, 3, 4], dtype=np.int64)
    cs, idx = last_per_contract(contract, ts)
    assert cs.tolist() == [0, 2]
    assert idx.tolist() == [3, 2]  # contract 2: two prints at ts 5, the later one in input order wins


# --------------------------------------------------------------------------- sweeps
def no_history(n_contracts: int):
    return (np.full(n_contracts, np.iinfo(np.int64).min // 2, dtype=np.int64), np.zeros(n_contracts, np.int8),
            np.full(n_contracts, -1, dtype=np.int64))


def group(ts_ms, contract, side, first_id=0, history=None, n_contracts=3):
    prev = history if history is not None else no_history(n_contracts)
    return sweep_groups(np.asarray(ts_ms, dtype=np.int64) * MS, np.asarray(contract, dtype=np.int32),
                        np.asarray(side, dtype=np.int8), WINDOW_NS, *prev, first_id)


def test_same_side_prints_on_one_contract_within_the_window_chain_into_one_group():
    #        0    1    2    3    4    5
    ts = [0, 100, 300, 900, 1000, 50]
    con = [0, 0, 0, 0, 0, 1]
    side = [1, 1, 1, 1, -1, 1]
    gid, joined, size = group(ts, con, side, first_id=100)
    # prints 0-2 chain (gaps 100 ms, 200 ms); print 3 is 600 ms after print 2: a new group;
    # print 4 is the opposite side: a new group; print 5 is another contract: never joins contract 0
    assert gid.tolist() == [100, 100, 100, 103, 104, 105]
    assert size.tolist() == [3, 3, 3, 1, 1, 1]
    assert not joined.any()


def test_chained_prints_extend_a_sweep_beyond_one_window_from_its_first_print():
    gid, _, size = group([0, 400, 800, 1200], [0] * 4, [1] * 4)
    assert len(set(gid.tolist())) == 1 and size.tolist() == [4] * 4


def test_prints_exactly_one_window_apart_join_and_just_beyond_do_not():
    gid, _, _ = group([0, 500], [0, 0], [1, 1])
    assert gid[0] == gid[1]
    gid, _, _ = sweep_groups(np.array([0, WINDOW_NS + 1], dtype=np.int64), np.zeros(2, np.int32),
                             np.ones(2, np.int8), WINDOW_NS, *no_history(1), 0)
    assert gid[0] != gid[1]


def test_side_mid_prints_never_form_sweeps():
    gid, _, size = group([0, 0, 10], [0, 0, 0], [0, 0, 0])
    assert len(set(gid.tolist())) == 3 and size.tolist() == [1, 1, 1]


def test_simultaneous_prints_on_different_contracts_are_separate_groups():
    gid, _, size = group([0, 0, 0], [0, 1, 2], [1, 1, 1])
    assert len(set(gid.tolist())) == 3 and size.tolist() == [1, 1, 1]


def test_sweep_spans_a_batch_boundary_through_the_prev_arrays():
    # batch A: one buy on contract 0 at 900 ms gets group 0
    gid_a, joined_a, _ = group([900], [0], [1], first_id=0)
    prev_ts, prev_side, prev_group = no_history(3)
    prev_ts[0], prev_side[0], prev_group[0] = 900 * MS, 1, gid_a[0]
    # batch B: the next buy 300 ms later continues the group; the log then holds 2 prints of it
    gid_b, joined_b, size_b = group([1200, 1300], [0, 0], [1, 1], first_id=1,
                                    history=(prev_ts, prev_side, prev_group))
    assert gid_b.tolist() == [gid_a[0], gid_a[0]]
    assert joined_b.tolist() == [True, True] and not joined_a.any()
    assert size_b.tolist() == [2, 2]  # size counts this batch's legs only
    log_groups = np.r_[gid_a, gid_b]
    assert np.bincount(log_groups)[gid_a[0]] == 3


@pytest.mark.parametrize("prev_side, prev_dt_ms, joins", [
    (1, 200, True),
    (-1, 200, False),   # opposite side
    (1, 600, False),    # too old
    (0, 200, False),    # previous print was side mid
])
def test_joining_the_previous_batch_requires_same_side_within_the_window(prev_side, prev_dt_ms, joins):
    prev_ts, prev_side_arr, prev_group = no_history(1)
    prev_ts[0], prev_side_arr[0], prev_group[0] = (1000 - prev_dt_ms) * MS, prev_side, 7
    gid, joined, _ = group([1000], [0], [1], first_id=50, history=(prev_ts, prev_side_arr, prev_group),
                           n_contracts=1)
    assert bool(joined[0]) is joins
    assert gid[0] == (7 if joins else 50)


def test_empty_batch_gives_empty_groups():
    gid, joined, size = group([], [], [])
    assert len(gid) == len(joined) == len(size) == 0


# --------------------------------------------------------------------------- properties
def classify_and_group(t_ts, t_c, t_px, q_ts, q_c, q_bid, q_ask, prior_bid, prior_ask, n_contracts):
    bid, ask = asof_quotes(t_ts, t_c, q_ts, q_c, q_bid, q_ask, prior_bid, prior_ask)
    aggr, side, state = classify_aggressor(t_px, bid, ask)
    gid, joined, size = sweep_groups(t_ts, t_c, side, WINDOW_NS, *no_history(n_contracts), 0)
    return aggr, side, state, gid, joined, size


def same_partition(gid_a: np.ndarray, gid_b: np.ndarray) -> bool:
    """Both labelings put the same prints together (ids may differ)."""
    pairs = set(zip(gid_a.tolist(), gid_b.tolist()))
    return len(pairs) == len(set(gid_a.tolist())) == len(set(gid_b.tolist()))


@st.composite
def one_batch_with_an_interleaving(draw, n_contracts=3):
    n = draw(st.integers(2, 30))
    ts = np.sort(np.array(draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n)), dtype=np.int64)) * MS
    con = np.array(draw(st.lists(st.integers(0, n_contracts - 1), min_size=n, max_size=n)), dtype=np.int32)
    px = np.array(draw(st.lists(st.sampled_from([0.9, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3]), min_size=n, max_size=n)))
    q_ts = np.array([0, 1000 * MS, 2000 * MS] * n_contracts, dtype=np.int64)
    q_c = np.repeat(np.arange(n_contracts, dtype=np.int32), 3)
    q_order = np.argsort(q_ts, kind="stable")
    q_bid = np.array(draw(st.lists(st.sampled_from([1.0, 1.05, NAN]), min_size=len(q_ts), max_size=len(q_ts))))
    q_ask = np.full(len(q_ts), 1.2)
    # any interleaving that keeps every contract's own prints in their order: draw a random
    # permutation, then put each contract's prints back into that contract's positions in order
    perm = np.array(draw(st.permutations(range(n))), dtype=np.int64)
    for c in range(n_contracts):
        slots = np.flatnonzero(con[perm] == c)
        perm[slots] = np.flatnonzero(con == c)
    quotes_ = (q_ts[q_order], q_c[q_order], q_bid[q_order], q_ask[q_order],
               np.full(n_contracts, 1.0), np.full(n_contracts, 1.2))
    return ts, con, px, quotes_, perm


@PROPERTY
@given(one_batch_with_an_interleaving())
def test_classification_and_sweeps_are_invariant_to_the_order_of_other_contracts_prints(data):
    ts, con, px, quotes_, perm = data
    base = classify_and_group(ts, con, px, *quotes_, 3)
    moved = classify_and_group(ts[perm], con[perm], px[perm], *quotes_, 3)
    aggr, side, state, gid, joined, size = base
    aggr2, side2, state2, gid2, joined2, size2 = moved
    inverse = np.argsort(perm)
    for a, b in ((aggr, aggr2), (side, side2), (state, state2), (joined, joined2), (size, size2)):
        np.testing.assert_array_equal(a, b[inverse])
    assert same_partition(gid, gid2[inverse])


@PROPERTY
@given(bid=st.floats(0.01, 50.0), width=st.floats(0.0, 5.0),
       prices=st.lists(st.floats(0.0, 60.0), min_size=2, max_size=20))
def test_aggressor_and_side_never_decrease_as_the_print_price_rises(bid, width, prices):
    ask = bid + width
    px = np.sort(np.array(prices))
    aggr, side, state = classify_aggressor(px, np.full(len(px), bid), np.full(len(px), ask))
    assert np.all(state == (QUOTE_LOCKED if width <= 1e-6 else QUOTE_OK))
    order = {BELOW_BID: 0, AT_BID: 1, MID: 2, AT_ASK: 3, ABOVE_ASK: 4}
    rank = np.array([order[int(a)] for a in aggr])
    assert np.all(np.diff(rank) >= 0)
    assert np.all(np.diff(side) >= 0)
    # side is the sign of the aggressor outside the spread
    outside = aggr != MID
    np.testing.assert_array_equal(side[outside], np.sign(aggr[outside]))


@PROPERTY
@given(contract=st.lists(st.integers(0, 70_000), min_size=0, max_size=40), data=st.data())
def test_contract_time_order_sorts_by_contract_then_time_then_input_position(contract, data):
    n = len(contract)
    ts = np.array(data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)), dtype=np.int64)
    if data.draw(st.booleans()):
        ts = np.sort(ts)  # the common, time-sorted batch (radix path for < 65,536 contracts)
    c = np.array(contract, dtype=np.int32)
    expected = np.lexsort((np.arange(n), ts, c))
    np.testing.assert_array_equal(contract_time_order(c, ts), expected)


# --------------------------------------------------------------------------- the engine's fast paths
def _aggressor_reference(price, bid, ask):
    """docs/model.md 4.3 rule by rule: each test overwrites the previous (below_bid > at_bid > at_ask >
    above_ask), then the lock, the side and the unknowns."""
    bid = np.where(np.isfinite(bid) & (bid > 0), bid, 0.0)
    state = quote_state(bid, ask)
    aggr = np.full(price.shape, MID, dtype=np.int8)
    aggr[price > ask + PRICE_EPS] = ABOVE_ASK
    aggr[np.abs(price - ask) <= PRICE_EPS] = AT_ASK
    aggr[np.abs(price - bid) <= PRICE_EPS] = AT_BID
    aggr[price < bid - PRICE_EPS] = BELOW_BID
    aggr[(state == QUOTE_LOCKED) & (np.abs(price - ask) <= PRICE_EPS)] = MID
    side = np.sign(aggr).astype(np.int8)
    off, spread = price - 0.5 * (bid + ask), ask - bid
    side[(aggr == MID) & (off > MID_ZONE * spread + PRICE_EPS)] = 1
    side[(aggr == MID) & (off < -MID_ZONE * spread - PRICE_EPS)] = -1
    bad = (state == QUOTE_MISSING) | (state == QUOTE_CROSSED) | ~np.isfinite(price)
    aggr[bad], side[bad] = UNKNOWN, 0
    return aggr, side


def test_a_print_at_both_sides_of_a_two_eps_spread_is_at_bid():
    # spread 1.5 eps: the print is within eps of the bid and of the ask; the bid rule comes last and wins
    aggr, side = aggressor_and_side(np.array([1.0 + 0.75e-6]), np.array([1.0]), np.array([1.0 + 1.5e-6]))
    assert (int(aggr[0]), int(side[0])) == (AT_BID, -1)


# quotes on a penny grid (or no bid, NaN, inf); asks a few eps from the bid (locked, narrow, crossed) or a
# quote of their own; prints a few eps from one side; prices NaN or inf now and then
_QUOTE = st.one_of(st.sampled_from([0.0, -1.0, NAN, float("inf")]), st.integers(0, 300).map(lambda c: c / 100))
_SPREAD = st.sampled_from([0.0, 1e-6, 1.5e-6, 2e-6, -1.5e-6, 0.01, 0.05])
_OFFSET = st.sampled_from([0.0, 5e-7, -5e-7, 7.5e-7, -7.5e-7, 1e-6, -1e-6, 1.5e-6, 2e-6, 0.01, -0.01])


@PROPERTY
@given(st.lists(st.tuples(_QUOTE, st.one_of(_SPREAD.map(lambda d: (True, d)), _QUOTE.map(lambda q: (False, q))),
                          _OFFSET, st.booleans(), st.sampled_from([1.0, 1.0, 1.0, NAN, float("inf")])),
                min_size=1, max_size=40))
def test_aggressor_and_side_match_the_rule_by_rule_reference(rows):
    bid = np.array([r[0] for r in rows])
    ask = np.array([r[0] + r[1][1] if r[1][0] and np.isfinite(r[0]) else r[1][1] for r in rows])
    near = np.array([(a if r[3] else r[0]) + r[2] for a, r in zip(ask, rows)])
    with np.errstate(invalid="ignore"):  # inf - inf in both implementations: NaN, then unknown
        price = np.where(np.isfinite(near), near, 0.0) * np.array([r[4] for r in rows])
        got = aggressor_and_side(price, bid, ask)
        ref = _aggressor_reference(price, bid, ask)
        state = classify_aggressor(price, bid, ask)[2]
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_array_equal(state, quote_state(bid, ask))


def test_contract_sort_packs_into_64_bits_when_32_do_not_suffice():
    # 70,000 events (17 bits of position) on contracts up to 70,000 (17 bits): a 64-bit key
    rng = np.random.default_rng(3)
    c = rng.integers(0, 70_001, 70_000).astype(np.int32)
    ts = np.sort(rng.integers(0, 50, 70_000)).astype(np.int64)
    order, cs = contract_sort(c, ts)
    np.testing.assert_array_equal(order, np.lexsort((np.arange(len(c)), ts, c)))
    np.testing.assert_array_equal(cs, c[order])
    assert cs.dtype == c.dtype


@PROPERTY
@given(st.data())
def test_sweep_group_ids_are_sweep_groups_ids_given_history(data):
    n_contracts = 3
    n = data.draw(st.integers(1, 30))
    ts = np.sort(np.array(data.draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n)), dtype=np.int64)) * MS
    con = np.array(data.draw(st.lists(st.integers(0, n_contracts - 1), min_size=n, max_size=n)), dtype=np.int32)
    side = np.array(data.draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=n, max_size=n)), dtype=np.int8)
    prev_ts, prev_side, prev_group = no_history(n_contracts)
    for c in range(n_contracts):
        if data.draw(st.booleans()):
            prev_ts[c] = data.draw(st.integers(-800, 0)) * MS
            prev_side[c] = data.draw(st.sampled_from([-1, 0, 1]))
            prev_group[c] = data.draw(st.integers(0, 9))
    first_id = data.draw(st.integers(10, 2**31 + 10))  # ids past int32 come back as int64
    order, cs = contract_sort(con, ts)
    gid = sweep_group_ids(ts[order], cs, side, WINDOW_NS, prev_ts, prev_side, prev_group, first_id, order)
    ref, _, _ = sweep_groups(ts, con, side, WINDOW_NS, prev_ts, prev_side, prev_group, first_id)
    np.testing.assert_array_equal(gid, ref)
