"""The trade log grows geometrically (issue 17, "Bounded state"): appending N prints one batch at a
time reallocates O(log N) times, never once per append, and keeps every print in order."""

from __future__ import annotations

import math

import numpy as np

from zdte_tui.engine.flow_engine import TradeLog


def _prints(first: int, k: int) -> dict[str, np.ndarray]:
    ts = np.arange(first, first + k, dtype=np.int64)
    return {name: ts.astype(dtype) for name, dtype in TradeLog.COLUMNS.items()}


def test_appending_one_print_at_a_time_reallocates_logarithmically_often():
    log = TradeLog(capacity=16)
    capacities = {len(log.cols["ts_ns"])}
    for i in range(20_000):
        assert log.append(**_prints(i, 1)) == i
        capacities.add(len(log.cols["ts_ns"]))
    # capacity grows by >= 1.5x per reallocation: 16 -> 20,000 takes at most log_1.5(1250) + 1 steps
    assert len(capacities) - 1 <= math.ceil(math.log(20_000 / 16, 1.5)) + 1
    np.testing.assert_array_equal(log.view("ts_ns"), np.arange(20_000))
    np.testing.assert_array_equal(log.view("contract"), np.arange(20_000, dtype=np.int32))


def test_a_batch_larger_than_the_growth_step_fits_in_one_reallocation():
    log = TradeLog(capacity=4)
    log.append(**_prints(0, 3))
    first = log.append(**_prints(3, 1000))
    assert first == 3 and log.n == 1003
    assert len(log.cols["ts_ns"]) >= 1003
    np.testing.assert_array_equal(log.view("ts_ns"), np.arange(1003))


# --------------------------------------------------------------------------- which prints are kept
def _append(log: TradeLog, rows: list[tuple[int, int, int, int]]) -> None:
    """Prints (contract, side, size, group); times and prices are the appended ordinals."""
    first = log.appended
    contract, side, size, group = (np.array(col) for col in zip(*rows))
    ts = np.arange(first, first + len(rows), dtype=np.int64)
    log.append(ts_ns=ts, contract=contract, price=ts.astype(float), size=size, aggressor=side, side=side,
               group=group)


def test_compaction_keeps_sweep_legs_blocks_and_lone_prints_that_may_still_gain_a_leg():
    log = TradeLog(capacity=4)
    _append(log, [(0, 1, 5, 0),     # 0: lone so far; print 3 joins it -> a sweep, kept
                  (1, -1, 300, 1),  # 1: block-sized, kept
                  (2, 1, 5, 2),     # 2: lone, and contract 2 printed again (4): no leg can join, dropped
                  (0, 1, 5, 0),     # 3: second leg of group 0
                  (2, -1, 5, 4),    # 4: lone, contract 2's last print: may still gain a leg, kept for now
                  (3, 0, 5, 5)])    # 5: a mid print never chains: dropped
    log.compact(block_size=250, last_group=np.array([0, 1, 4, 5]))
    assert log.view("ts_ns").tolist() == [0, 1, 3, 4]
    assert (log.start, log.n_pending, log.appended) == (3, 1, 6)
    _append(log, [(2, -1, 5, 4),    # 6: joins the waiting print 4: both kept
                  (1, -1, 5, 1),    # 7: a later leg of the block's group (begun before the last compaction)
                  (0, 1, 5, 8)])    # 8: a new lone print, contract 0's last: waits
    log.compact(block_size=250, last_group=np.array([8, 1, 4, 5]))
    assert log.view("ts_ns").tolist() == [0, 1, 3, 4, 6, 7, 8]
    assert log.view("group").tolist() == [0, 1, 0, 4, 4, 1, 8]
    assert (log.start, log.n_pending) == (6, 1)


def test_an_audit_log_keeps_every_print():
    log = TradeLog(capacity=4, audit=True)
    rows = [(0, 1, 5, 0), (0, -1, 5, 1), (1, 0, 5, 2)]
    first = log.appended
    contract, side, size, group = (np.array(col) for col in zip(*rows))
    ts = np.arange(first, first + 3, dtype=np.int64)
    audit = {name: np.zeros(3) for name in TradeLog.AUDIT_COLUMNS}
    log.append(ts_ns=ts, contract=contract, price=ts.astype(float), size=size, aggressor=side, side=side,
               group=group, **audit)
    log.compact(block_size=250, last_group=np.array([1, 2]))
    assert log.n == 3 and set(log.cols) == set(TradeLog.COLUMNS) | set(TradeLog.AUDIT_COLUMNS)


def test_a_frozen_log_truncates_back_to_its_rows_and_print_count():
    log = TradeLog(capacity=4)
    _append(log, [(0, 1, 5, 0), (1, 1, 5, 1), (2, 1, 5, 2)])  # three lone prints, each its contract's last
    n = log.freeze()
    assert n == 3 and log.start == 3
    _append(log, [(0, -1, 5, 3), (1, -1, 5, 4), (1, -1, 5, 4)])
    log.compact(block_size=250, last_group=np.array([3, 4, 2]))
    assert log.view("ts_ns").tolist() == [0, 1, 2, 4, 5, 3]  # frozen rows never move; print 3 waits
    log.truncate(n)
    assert (log.n, log.appended, log.start, log.n_pending) == (3, 3, 3, 0)
    assert log.view("ts_ns").tolist() == [0, 1, 2]
